"""ControlNet units: the extension's API forms (dict, aliases, 1.0 flat list), enums with their aliases and ints,
and errors that name the unit and field."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from modules.controlnet.units import (ControlMode, ControlUnit, HiresOption, ResizeMode, check_unit_names,
                                      coerce_units, parse_resize_mode, unit_from_dict, units_from_api)
from modules.errors import InvalidInput


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def decode(field, text):
    return Image.open(io.BytesIO(base64.b64decode(text)))


RED = Image.new("RGB", (16, 8), (255, 0, 0))


def test_dict_unit_with_every_field():
    unit, = units_from_api([{"enabled": True, "module": "canny", "model": "control_canny [abcd]", "weight": 0.5,
                             "image": b64(RED), "resize_mode": "Resize and Fill", "low_vram": True,
                             "processor_res": 256, "threshold_a": 50, "threshold_b": 150, "guidance_start": 0.1,
                             "guidance_end": 0.8, "pixel_perfect": True,
                             "control_mode": "ControlNet is more important", "hr_option": "Low res only",
                             "save_detected_map": False}], decode)
    assert (unit.module, unit.model, unit.weight, unit.processor_res) == ("canny", "control_canny [abcd]", 0.5, 256)
    assert unit.resize_mode is ResizeMode.RESIZE_AND_FILL and unit.control_mode is ControlMode.CONTROL
    assert unit.hr_option is HiresOption.LOW_RES_ONLY and unit.low_vram and unit.pixel_perfect
    assert (unit.guidance_start, unit.guidance_end, unit.save_detected_map) == (0.1, 0.8, False)
    assert unit.image.mode == "RGB" and unit.image.size == (16, 8) and unit.image.getpixel((0, 0)) == (255, 0, 0)


def test_defaults_are_the_extensions():
    unit = unit_from_dict({})
    assert unit.enabled  # a sent unit without "enabled" is meant (the extension's 1.1 API)
    assert (unit.module, unit.model, unit.weight) == ("none", "None", 1.0)
    assert unit.resize_mode is ResizeMode.CROP_AND_RESIZE and unit.control_mode is ControlMode.BALANCED
    assert (unit.processor_res, unit.threshold_a, unit.threshold_b) == (-1, -1, -1)
    assert not ControlUnit().enabled


@pytest.mark.parametrize("value, expected", [
    (0, ResizeMode.JUST_RESIZE), (1, ResizeMode.CROP_AND_RESIZE), (2, ResizeMode.RESIZE_AND_FILL),
    (3, ResizeMode.JUST_RESIZE), ("Just Resize", ResizeMode.JUST_RESIZE),
    ("Inner Fit (Scale to Fit)", ResizeMode.CROP_AND_RESIZE), ("Outer Fit (Shrink to Fit)", ResizeMode.RESIZE_AND_FILL),
    ("Envelope (Outer Fit)", ResizeMode.RESIZE_AND_FILL), ("Scale to Fit (Inner Fit)", ResizeMode.CROP_AND_RESIZE)])
def test_resize_mode_forms(value, expected):
    assert parse_resize_mode("f", value) is expected


@pytest.mark.parametrize("value, expected", [(0, ControlMode.BALANCED), (1, ControlMode.PROMPT),
                                             (2, ControlMode.CONTROL), ("My prompt is more important",
                                                                        ControlMode.PROMPT)])
def test_control_mode_forms(value, expected):
    assert unit_from_dict({"control_mode": value}).control_mode is expected


def test_modes_print_as_the_extensions_texts():
    """str() and f-strings of a mode give its text (the value the extension's API and infotext carry)."""
    assert [str(m) for m in ResizeMode] == ["Just Resize", "Crop and Resize", "Resize and Fill"]
    assert f"{ControlMode.PROMPT} / {HiresOption.LOW_RES_ONLY}" == "My prompt is more important / Low res only"


def test_old_key_aliases_and_guess_mode():
    unit = unit_from_dict({"input_image": b64(RED), "lowvram": True, "guidance": 0.4, "guessmode": True}, "u", decode)
    assert unit.image is not None and unit.low_vram and unit.guidance_end == 0.4
    assert unit.control_mode is ControlMode.CONTROL


def test_flat_positional_form_of_api_1_0():
    args = [True, "canny", "m", 0.7, RED, "Crop and Resize", False, 512, 64, 128, 0.0, 0.5, True, False, 0,
            False, "invert", "m2", 1.0]
    first, second = units_from_api(args)
    assert (first.enabled, first.module, first.weight, first.threshold_b, first.guidance_end) == \
        (True, "canny", 0.7, 128.0, 0.5)
    assert first.control_mode is ControlMode.BALANCED  # an explicit control_mode wins over guess_mode
    assert (second.enabled, second.module, second.model) == (False, "invert", "m2")


@pytest.mark.parametrize("unit, field", [
    ({"weight": 2.5}, "controlnet.args[1].weight"),
    ({"weight": "x"}, "controlnet.args[1].weight"),
    ({"guidance_start": 0.8, "guidance_end": 0.2}, "controlnet.args[1].guidance_start"),
    ({"resize_mode": "Stretch"}, "controlnet.args[1].resize_mode"),
    ({"control_mode": 7}, "controlnet.args[1].control_mode"),
    ({"enabled": "yes"}, "controlnet.args[1].enabled"),
    ({"module": 3}, "controlnet.args[1].module"),
    ({"image": 42}, "controlnet.args[1].image"),
    ({"image": b64(RED), "mask": b64(Image.new("L", (4, 4)))}, "controlnet.args[1].mask"),
    ({"mask": b64(Image.new("L", (4, 4)))}, "controlnet.args[1].mask"),
    ({"image": [b64(RED)] * 3}, "controlnet.args[1].image"),
    ({"advanced_weighting": [1.0] * 13}, "controlnet.args[1].advanced_weighting"),
    ({"input_mode": "batch"}, "controlnet.args[1].input_mode"),
    ({"union_control_type": "Depth"}, "controlnet.args[1].union_control_type"),
])
def test_bad_values_name_unit_and_field(unit, field):
    with pytest.raises(InvalidInput) as err:
        units_from_api([{}, unit], decode)
    assert err.value.field == field


def test_extension_defaults_of_unsupported_fields_are_accepted():
    """A client sending a whole default ControlNetUnit (every field) is not refused."""
    unit = unit_from_dict({"module": "canny", "is_ui": False, "input_mode": "simple", "batch_images": "",
                           "output_dir": "", "loopback": False, "advanced_weighting": None,
                           "effective_region_mask": None, "pulid_mode": "Fidelity", "union_control_type": "Unknown",
                           "inpaint_crop_input_image": True, "batch_modifiers": [], "animatediff_batch": False})
    assert unit.module == "canny"


def test_not_a_list_or_not_a_unit():
    with pytest.raises(InvalidInput, match="controlnet.args"):
        units_from_api({"module": "canny"})
    with pytest.raises(InvalidInput, match=r"controlnet.args\[0\]"):
        units_from_api(["canny"])


def test_image_forms_and_masks():
    mask = Image.new("L", (16, 8), 255)
    for image in ({"image": b64(RED), "mask": b64(mask)}, [b64(RED), b64(mask)], [{"image": b64(RED),
                                                                                  "mask": b64(mask)}]):
        unit = unit_from_dict({"image": image}, "u", decode)
        assert unit.image.size == (16, 8) and unit.mask.mode == "L" and unit.mask.getpixel((0, 0)) == 255
    unit = unit_from_dict({"image": b64(RED), "mask_image": b64(mask)}, "u", decode)
    assert unit.mask is not None
    assert unit_from_dict({"image": ""}).image is None  # webuiapi sends "" for "no image"


def test_rgba_and_numpy_images():
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert unit_from_dict({"image": rgba}).image.getpixel((0, 0)) == (255, 255, 255)  # transparent → white
    array = np.zeros((4, 6), np.uint8)
    assert unit_from_dict({"image": array}).image.size == (6, 4)
    with pytest.raises(InvalidInput, match="image"):
        unit_from_dict({"image": np.zeros((4, 4, 2))}, "u")


def test_unit_survives_the_job_store_json():
    unit = unit_from_dict({"module": "canny", "image": RED, "mask": Image.new("L", (16, 8)), "resize_mode": 2})
    from modules.jobs.codec import decode_request, encode_request
    from modules.pipeline.request import GenerationRequest
    text = encode_request(GenerationRequest(controlnet_units=(unit,)))
    json.loads(text)
    back, = decode_request(GenerationRequest, text).controlnet_units
    assert back.resize_mode is ResizeMode.RESIZE_AND_FILL and back.module == "canny"
    assert back.image.size == (16, 8) and back.mask.mode == "L"
    assert coerce_units(()) == ()


def test_check_names_canonical_model_and_errors():
    units = (ControlUnit(enabled=True, module="canny", model="control_canny"),
             ControlUnit(enabled=False, module="nope"))
    checked = check_unit_names(units, ["canny"], ["control_canny [abc12345]"])
    assert [u.model for u in checked] == ["control_canny [abc12345]"]  # the disabled unit drops out
    with pytest.raises(InvalidInput) as err:
        check_unit_names((ControlUnit(enabled=True, module="canny", model="missing"),), ["canny"], [])
    assert err.value.field == "controlnet.args[0].model"
    with pytest.raises(InvalidInput) as err:
        check_unit_names((ControlUnit(enabled=True, module="x"),), ["canny"], [])
    assert err.value.field == "controlnet.args[0].module"
    with pytest.raises(InvalidInput, match="no ControlNet model"):
        check_unit_names((ControlUnit(enabled=True, module="canny"),), ["canny"], ["a"])
