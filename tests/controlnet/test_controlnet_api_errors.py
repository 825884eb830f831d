"""Model-side unit errors through the API: they happen when the job loads the ControlNet, and still come back as a
4xx naming the unit and the file, with no image made without the unit."""
from __future__ import annotations

import pytest

from tests.api.conftest import TINY, make_client
from tests.api.test_controlnet_api import b64, control_image
from tests.fixtures.tiny_controlnet import make_tiny_controlnet


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("cn-api-errors")
    make_tiny_controlnet(root / "models" / "ControlNet", "control_sd2_wide", context_dim=64)
    (root / "models" / "ControlNet" / "control_broken.pth").write_bytes(b"\x80\x02 not a checkpoint" * 8)
    with make_client(root, tiny_checkpoint) as c:
        yield c


@pytest.mark.parametrize("model,says", [("control_sd2_wide", "another model family"),
                                        ("control_broken", "cannot load")])
def test_a_controlnet_that_does_not_fit_or_load_is_a_4xx_naming_unit_and_file(client, model, says):
    unit = {"module": "none", "model": model, "image": b64(control_image())}
    response = client.post("/sdapi/v1/txt2img", json={**TINY, "alwayson_scripts": {"controlnet": {"args": [unit]}}})
    assert 400 <= response.status_code < 500, response.text
    assert "controlnet_units[0].model" in response.text and f"{model}.pth" in response.text and says in response.text
