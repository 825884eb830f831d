"""Negative Guidance minimum sigma (A1111's `s_min_uncond`, infotext `NGMS`): the negative prompt's UNet pass is
skipped on odd model calls (all calls with `s_min_uncond_all`) once sigma is below the threshold."""
import pytest
import torch

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from modules.sampling.cfg import CFGDenoiser

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=7,
            sampler_name="Euler")


def rows_per_call(cfg_kwargs: dict, sigmas: list[float]) -> tuple[list[int], list[torch.Tensor], CFGDenoiser]:
    """Run a CFGDenoiser over `sigmas` with a fake model: (rows the model got per call, outputs, the denoiser)."""
    rows = []

    def model(x, sigma, cond):  # cond row 0: the prompt (→ 1), row 1: the negative prompt (→ 0)
        rows.append(x.shape[0])
        return cond[:, :1, :1, None].expand_as(x) * 1.0

    cond, uncond = torch.ones(1, 1, 1), torch.zeros(1, 1, 1)
    cfg = CFGDenoiser(model, cond, uncond, 7.0, **cfg_kwargs)
    x = torch.zeros(1, 4, 2, 2)
    outputs = [cfg(x, torch.tensor([s])) for s in sigmas]
    return rows, outputs, cfg


def test_odd_calls_below_the_threshold_skip_the_uncond_pass():
    sigmas = [10.0, 8.0, 4.0, 3.0, 2.0, 1.0]  # model calls 0 … 5
    rows, outputs, cfg = rows_per_call({"s_min_uncond": 5.0}, sigmas)
    assert rows == [2, 2, 2, 1, 2, 1] and cfg.uncond_skipped  # calls 3 and 5: odd and below 5
    assert float(outputs[2].mean()) == 7.0 and float(outputs[3].mean()) == 1.0  # skipped: the cond alone
    rows, _, cfg = rows_per_call({"s_min_uncond": 5.0, "s_min_uncond_all": True}, sigmas)
    assert rows == [2, 2, 1, 1, 1, 1]
    rows, _, cfg = rows_per_call({}, sigmas)
    assert rows == [2] * 6 and not cfg.uncond_skipped


def test_samplers_that_need_the_uncond_result_keep_it():
    cfg = CFGDenoiser(lambda x, sigma, cond: x, torch.ones(1, 1, 1), torch.zeros(1, 1, 1), 7.0, s_min_uncond=5.0,
                      s_min_uncond_all=True)
    _, uncond = cfg.guided(torch.zeros(1, 4, 2, 2), torch.tensor([1.0]), need_uncond=True)
    assert uncond is not None and not cfg.uncond_skipped


def count_unet_rows(model) -> list[int]:
    seen = []
    forward = model.unet_forward

    def spy(x, t, context, concat=None):
        seen.append(x.shape[0])
        return forward(x, t, context, concat=concat)

    model.unet_forward = spy
    return seen


def test_txt2img_skips_uncond_and_writes_ngms(app):
    rows = count_unet_rows(app.models.get(None))
    plain = app.txt2img(GenerationRequest(**BASE))
    assert sum(rows) == 8 and "NGMS" not in plain.infotexts[0]
    rows.clear()
    skipped = app.txt2img(GenerationRequest(**BASE, s_min_uncond=100.0))  # above every sigma: odd calls skip
    assert sum(rows) == 6
    assert parse_infotext(skipped.infotexts[0])["NGMS"] == "100"
    rows.clear()
    every = app.txt2img(GenerationRequest(**BASE, override_settings={"s_min_uncond": 15.0,  # the setting's top,
                                                                     "s_min_uncond_all": True}))  # > σ_max 14.6
    fields = parse_infotext(every.infotexts[0])
    assert sum(rows) == 4 and fields["NGMS"] == "15" and fields["NGMS all steps"] == "True"
    rows.clear()
    below = app.txt2img(GenerationRequest(**BASE, s_min_uncond=0.001))  # no sigma is that low: nothing skipped
    assert sum(rows) == 8 and "NGMS" not in below.infotexts[0]


def test_img2img_and_hires_passes_skip_too(app):
    source = app.txt2img(GenerationRequest(**BASE)).images[0]
    rows = count_unet_rows(app.models.get(None))
    result = app.img2img(Img2ImgRequest(**BASE, init_images=(source,), denoising_strength=1.0, s_min_uncond=100.0))
    assert sum(rows) == 6 and parse_infotext(result.infotexts[0])["NGMS"] == "100"
    rows.clear()
    hires = app.txt2img(GenerationRequest(**BASE, enable_hr=True, hr_second_pass_steps=4, denoising_strength=1.0,
                                          s_min_uncond=100.0))
    assert sum(rows) == 6 + 6 and parse_infotext(hires.infotexts[0])["NGMS"] == "100"


def test_bad_value_is_named(app):
    with pytest.raises(InvalidInput, match="s_min_uncond"):
        app.txt2img(GenerationRequest(**BASE, s_min_uncond=-1.0))
