"""A1111's sd_noise_schedule ("Zero Terminal SNR", infotext `Noise Schedule`) and use_downcasted_alpha_bar
(infotext `Downcast alphas_cumprod`) through a txt2img job: each changes the picture, is written, and reads back."""
from __future__ import annotations

import numpy as np
import pytest

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=3,
            sampler_name="Euler")
CASES = {"sd_noise_schedule": ("Zero Terminal SNR", "Noise Schedule", "Zero Terminal SNR"),
         "use_downcasted_alpha_bar": (True, "Downcast alphas_cumprod", "True")}


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    from tests.pipeline.conftest import make_app

    return make_app(tmp_path_factory.mktemp("alphas"), tiny_checkpoint)


def generate(app, **settings):
    result = app.txt2img(GenerationRequest(**BASE, override_settings=settings))
    return np.asarray(result.images[0], dtype=np.int16), result.infotexts[0]


@pytest.mark.parametrize("setting", list(CASES))
def test_each_setting_changes_the_picture_is_written_and_pastes_back(app, setting):
    value, key, written = CASES[setting]
    plain, plain_info = generate(app)
    image, info = generate(app, **{setting: value})
    assert not np.array_equal(image, plain) and np.isfinite(image).all()
    assert parse_infotext(info)[key] == written and key not in plain_info
    assert fill_from_infotext({}, set(), info, set())["override_settings"][setting] == value


def test_both_at_once_and_unknown_schedules_are_refused(app):
    with pytest.raises(InvalidInput, match="use_downcasted_alpha_bar"):
        generate(app, sd_noise_schedule="Zero Terminal SNR", use_downcasted_alpha_bar=True)
    with pytest.raises(InvalidInput, match="sd_noise_schedule: unknown value 'ztsnr'"):
        generate(app, sd_noise_schedule="ztsnr")


def test_an_infotext_older_than_1_7_pastes_the_downcast():
    old = "a cat\nSteps: 4, Sampler: Euler, Seed: 1, Size: 64x64, Version: v1.6.0"
    assert fill_from_infotext({}, set(), old, set())["override_settings"]["use_downcasted_alpha_bar"] is True
    new = old.replace("v1.6.0", "v1.10.1")
    assert "use_downcasted_alpha_bar" not in fill_from_infotext({}, set(), new, set())["override_settings"]
