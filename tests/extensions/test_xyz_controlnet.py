"""X/Y/Z plot's [ControlNet] axes: they set the field on every unit of each cell, and refuse cells without units."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw

from modules.controlnet.units import ControlMode, ControlUnit
from modules.extensions.compat import binding
from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import load_builtin
from tests.extensions.test_builtin_xyz import BASE, xyz_args
from tests.fixtures.tiny_controlnet import make_tiny_controlnet


def axes():
    return load_builtin("xyz-grid/xyz_controlnet.py", folder="xyz-grid")


def test_axis_sets_every_unit_and_refuses_without_units():
    module = axes()
    p = SimpleNamespace(controlnet_units=(ControlUnit(enabled=True, module="canny"), ControlUnit(enabled=True)))
    module.apply_unit_field("weight", float)(p, "0.25", [])
    assert [u.weight for u in p.controlnet_units] == [0.25, 0.25]
    module.apply_unit_field("control_mode", str)(p, "My prompt is more important", [])
    assert all(u.control_mode is ControlMode.PROMPT for u in p.controlnet_units)
    module.apply_unit_field("enabled", module.to_bool)(p, "False", [])
    assert not any(u.enabled for u in p.controlnet_units)
    with pytest.raises(RuntimeError, match="no enabled unit"):
        module.apply_unit_field("weight", float)(SimpleNamespace(controlnet_units=()), "1", [])
    with pytest.raises(RuntimeError, match="True or False"):
        module.to_bool("maybe")


@pytest.fixture(scope="module")
def app(builtin_app):
    make_tiny_controlnet(builtin_app.paths.models_dir / "ControlNet", "control_tiny_canny")
    return builtin_app


def test_weight_axis_runs_and_changes_the_images(app):
    binding.bind(app, app.scripts)
    image = Image.new("RGB", (64, 64), "black")
    ImageDraw.Draw(image).ellipse((12, 12, 52, 52), fill="white")
    model = app.services.controlnets.names()[0]
    unit = ControlUnit(enabled=True, module="canny", model=model, image=image, processor_res=64)
    result = app.txt2img(GenerationRequest(**BASE, controlnet_units=(unit,), script_name="X/Y/Z plot",
                                           script_args=xyz_args("[ControlNet] Weight", "0, 2")))
    first, second = result.images[1:]
    assert list(first.getdata()) != list(second.getdata())
    assert "Weight: 0.0" in result.infotexts[1] and "Weight: 2.0" in result.infotexts[2]
    plain = app.txt2img(GenerationRequest(**BASE))
    assert list(plain.images[0].getdata()) == list(first.getdata())  # weight 0 is no ControlNet
