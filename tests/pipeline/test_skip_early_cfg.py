"""A1111's "Ignore negative prompt during early sampling" (skip_early_cond, infotext `Skip Early CFG`): model calls
with call / total <= the fraction skip the negative prompt's UNet pass and use the prompt alone, where total is the
pass's steps, doubled for second-order samplers (A1111's sd_samplers_cfg_denoiser.py rule)."""
import numpy as np
import pytest
import torch

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from modules.sampling.cfg import CFGDenoiser
from tests.pipeline.test_ngms import count_unet_rows, rows_per_call

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=7,
            sampler_name="Euler")


def test_the_first_fraction_of_calls_run_without_cfg():
    sigmas = [10.0, 8.0, 4.0, 3.0]  # calls 0 … 3 of a 4-step pass: 0, 0.25, 0.5, 0.75 of it
    rows, outputs, cfg = rows_per_call({"skip_early_cond": 0.5, "skip_early_total": 4}, sigmas)
    assert rows == [1, 1, 1, 2] and cfg.early_skipped and not cfg.uncond_skipped  # 0.5 itself still skips
    assert [float(o.mean()) for o in outputs] == [1.0, 1.0, 1.0, 7.0]  # the prompt alone, then CFG at 7
    rows, _, cfg = rows_per_call({"skip_early_cond": 0.5, "skip_early_total": 8}, sigmas)  # second order: 8
    assert rows == [1, 1, 1, 1]
    rows, _, cfg = rows_per_call({"skip_early_cond": 0.0, "skip_early_total": 4}, sigmas)
    assert rows == [2, 2, 2, 2] and not cfg.early_skipped


def test_it_wins_over_ngms_and_skips_for_samplers_that_want_the_uncond():
    sigmas = [10.0, 8.0, 4.0, 3.0]
    rows, _, cfg = rows_per_call({"skip_early_cond": 0.25, "skip_early_total": 4, "s_min_uncond": 100.0}, sigmas)
    assert rows == [1, 1, 2, 1] and cfg.early_skipped and cfg.uncond_skipped  # call 3 is NGMS's (odd)
    rows, _, cfg = rows_per_call({"skip_early_cond": 0.25, "skip_early_total": 4, "s_min_uncond": 100.0,
                                  "s_min_uncond_all": False}, sigmas[:2])
    assert not cfg.uncond_skipped  # call 1 is odd and below 100, but the early rule took it
    cfg = CFGDenoiser(lambda x, sigma, cond: x, torch.ones(1, 1, 1), torch.zeros(1, 1, 1), 7.0,
                      skip_early_cond=0.5, skip_early_total=4)
    _, uncond = cfg.guided(torch.zeros(1, 4, 2, 2), torch.tensor([1.0]), need_uncond=True)
    assert uncond is None and cfg.early_skipped  # DDIM CFG++ then takes the guided result, as in A1111


def test_txt2img_skips_and_writes_it(app):
    rows = count_unet_rows(app.models.get(None))
    plain = app.txt2img(GenerationRequest(**BASE))
    assert sum(rows) == 8 and "Skip Early CFG" not in plain.infotexts[0]
    rows.clear()
    early = app.txt2img(GenerationRequest(**BASE, override_settings={"skip_early_cond": 0.5}))
    assert sum(rows) == 5  # calls 0, 1, 2 of 4 with one row
    fields = parse_infotext(early.infotexts[0])
    assert fields["Skip Early CFG"] == "0.5" and "NGMS" not in fields
    assert not np.array_equal(np.asarray(early.images[0]), np.asarray(plain.images[0]))
    assert fill_from_infotext({}, set(), early.infotexts[0], set())["override_settings"]["skip_early_cond"] == 0.5
    rows.clear()
    heun = app.txt2img(GenerationRequest(**{**BASE, "sampler_name": "Heun", "steps": 3},
                                         override_settings={"skip_early_cond": 0.5}))
    assert sum(rows) == 6 and "Skip Early CFG: 0.5" in heun.infotexts[0]  # 5 calls of 6: 0 … 3 skip
    rows.clear()
    unguided = app.txt2img(GenerationRequest(**BASE, cfg_scale=1.0, override_settings={"skip_early_cond": 0.1}))
    assert sum(rows) == 4 and "Skip Early CFG: 0.1" in unguided.infotexts[0]  # A1111 writes it at scale 1 too


def test_img2img_counts_its_own_pass(app):
    source = app.txt2img(GenerationRequest(**BASE)).images[0]
    rows = count_unet_rows(app.models.get(None))
    result = app.img2img(Img2ImgRequest(**{**BASE, "steps": 10}, init_images=(source,), denoising_strength=0.5,
                                        override_settings={"skip_early_cond": 0.4}))
    assert sum(rows) == 6 * 2 - 3  # t_enc + 1 = 6 calls; 0/6, 1/6 and 2/6 are <= 0.4
    assert "Skip Early CFG: 0.4" in result.infotexts[0]


def test_a_fraction_out_of_range_is_refused_naming_the_setting(app):
    with pytest.raises(InvalidInput, match="skip_early_cond"):
        app.txt2img(GenerationRequest(**BASE, override_settings={"skip_early_cond": 1.5}))
