"""ControlNet infotext entries: written as sd-webui-controlnet writes them, read back into units."""
from __future__ import annotations

import pytest

from modules.controlnet.infotext import parse_unit_text, units_from_infotext, units_infotext
from modules.controlnet.preprocessors import default_registry
from modules.controlnet.units import ControlMode, ControlUnit, ResizeMode
from modules.errors import InvalidInput
from modules.imaging.infotext import format_infotext, parse_infotext
from modules.pipeline.params import RunFacts, infotext_params
from modules.pipeline.request import GenerationRequest

EXTENSION_LINE = ('a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, ControlNet 0: "Module: '
                  'canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 0.8, Resize Mode: Resize and Fill, '
                  'Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.1, Guidance End: '
                  '0.9, Pixel Perfect: True, Control Mode: My prompt is more important", Version: v1.10.1')


def test_reads_the_extensions_line():
    unit = units_from_infotext(parse_infotext(EXTENSION_LINE))[0]
    assert (unit.enabled, unit.module, unit.model, unit.weight) == (True, "canny",
                                                                   "control_v11p_sd15_canny [d14c016b]", 0.8)
    assert unit.resize_mode is ResizeMode.RESIZE_AND_FILL and unit.control_mode is ControlMode.PROMPT
    assert (unit.processor_res, unit.threshold_a, unit.guidance_start, unit.guidance_end, unit.pixel_perfect) == \
        (512, 100.0, 0.1, 0.9, True)


def test_written_with_resolved_sliders_and_read_back():
    units = (ControlUnit(enabled=False, module="invert"),
             ControlUnit(enabled=True, module="canny", model="ctl [abcd1234]", weight=0.5,
                         resize_mode=ResizeMode.JUST_RESIZE))
    entries = units_infotext(units, default_registry())
    assert list(entries) == ["ControlNet 1"]
    assert "Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0" in entries["ControlNet 1"]
    text = format_infotext("x", "", infotext_params(GenerationRequest(controlnet_units=units),
                                                     RunFacts("Euler", "m", None), 1, 1))
    assert 'ControlNet 1: "Module: canny' in text
    back = units_from_infotext(parse_infotext(text))[1]
    assert (back.module, back.model, back.weight, back.resize_mode) == ("canny", "ctl [abcd1234]", 0.5,
                                                                        ResizeMode.JUST_RESIZE)


def test_no_units_no_entries():
    text = format_infotext("x", "", infotext_params(GenerationRequest(), RunFacts("Euler", "m", None), 1, 1))
    assert "ControlNet" not in text


def test_unreadable_entry_names_itself():
    with pytest.raises(InvalidInput, match="ControlNet 2"):
        units_from_infotext({"ControlNet 2": "Module canny"})
    assert parse_unit_text("Module: canny, Unknown Key: 3").module == "canny"
