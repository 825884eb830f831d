"""Soft inpainting: the blend maths, the weighted percentile filter against a plain loop, and runs on both models."""
import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.soft_inpaint import (
    SoftSettings,
    blend_hooks,
    blend_weight,
    latent_blend,
    percentile_filter,
    tapered_gaussian,
)
from modules.sampling.cfg_hooks import AfterCFGParams, DenoiserParams
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", steps=3, width=64, height=64, seed=21)


def slow_percentile(image, kernel, low, high, min_width=1.0):
    """The filter written out pixel by pixel: sort the window, stack weights, average the [low, high] slice."""
    r = kernel.shape[0] // 2
    out = np.zeros_like(image)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            items = sorted((image[yy, xx], kernel[yy - y + r, xx - x + r])
                           for yy in range(max(0, y - r), min(image.shape[0], y + r + 1))
                           for xx in range(max(0, x - r), min(image.shape[1], x + r + 1)))
            total = sum(w for _, w in items)
            lo, hi = total * low, total * high
            if hi - lo < min_width:
                c = (lo + hi) / 2
                lo, hi = c - min_width / 2, c + min_width / 2
                if hi > total:
                    lo, hi = total - min_width, total
                if lo < 0:
                    lo, hi = 0, min_width
            acc = weight = start = 0.0
            for value, w in items:
                overlap = max(0.0, min(hi, start + w) - max(lo, start))
                acc, weight, start = acc + value * overlap, weight + overlap, start + w
            out[y, x] = acc / weight if weight else 0
    return out


@pytest.mark.parametrize("low,high", [(0.9, 1.0), (0.25, 0.75), (0.0, 1.0)])
def test_percentile_filter_matches_a_plain_loop(low, high):
    image = np.random.default_rng(0).random((7, 9))
    kernel = tapered_gaussian()
    assert np.allclose(percentile_filter(image, kernel, low, high), slow_percentile(image, kernel, low, high))


def test_blend_ends_and_weights():
    a, b = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3)
    assert torch.allclose(latent_blend(a, b, torch.zeros(1, 1, 3, 3), 4.0), a, atol=1e-4)
    assert torch.allclose(latent_blend(a, b, torch.ones(1, 1, 3, 3), 4.0), b, atol=1e-4)
    half = latent_blend(a, b, torch.full((1, 1, 3, 3), 0.5), 32.0)  # high preservation → near the larger length
    lengths = torch.stack([a.norm(dim=1), b.norm(dim=1)]).max(dim=0).values
    assert torch.allclose(half.norm(dim=1), lengths, rtol=0.05)
    nmask = torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(blend_weight(nmask, 1.0, SoftSettings())[[0, 2]], torch.tensor([0.0, 1.0]))
    assert blend_weight(nmask, 10.0, SoftSettings())[1] < blend_weight(nmask, 0.1, SoftSettings())[1]


def test_blend_hooks_use_the_sigma_of_the_denoiser_call():
    init, x = torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2)  # [B, C, h, w]
    nmask = torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])  # [B, 1, h, w]: keep the top-left latent
    hooks = blend_hooks(SoftSettings(), init, nmask)
    after = AfterCFGParams(x.clone(), 0, 1)
    with pytest.raises(RuntimeError, match="before any denoiser call"):
        hooks.on_after_cfg[0](after)
    hooks.on_denoiser[0](DenoiserParams(x, None, torch.tensor([1.0]), 0, 1, None, None))
    hooks.on_after_cfg[0](after)
    assert torch.equal(after.x[0, :, 0, 0], init[0, :, 0, 0]) and torch.allclose(after.x[0, :, 1, 1], x[0, :, 1, 1])


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    checkpoint = tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint
    return make_app(tmp_path, checkpoint)


def test_soft_inpainting_keeps_far_pixels_and_writes_its_keys(any_app):
    rng = np.random.default_rng(3)
    source = Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    mask = Image.new("L", (128, 128))
    mask.paste(255, (56, 56, 72, 72))
    req = Img2ImgRequest(**{**BASE, "width": 128, "height": 128}, init_images=[source], mask=mask, mask_blur=4,
                         inpaint_full_res=False, inpainting_fill=1, denoising_strength=0.9, soft_inpainting=True)
    result = any_app.img2img(req)
    out, original = np.asarray(result.images[0]).astype(int), np.asarray(source).astype(int)
    changed = np.abs(out - original).max(axis=2) > 0
    assert changed[56:72, 56:72].any()
    assert not changed[:8].any() and not changed[-8:].any() and not changed[:, :8].any()
    far = np.ones_like(changed)
    far[24:104, 24:104] = False  # beyond 32 px of the mask only the composite mask's blur tail reaches
    assert np.abs(out - original).max(axis=2)[far].max() <= 8
    fields = parse_infotext(result.infotexts[0])
    assert fields["Soft inpainting enabled"] == "True" and fields["Soft inpainting preservation strength"] == "0.5"


def test_soft_settings_are_checked(app):
    with pytest.raises(InvalidInput, match="inpaint_detail_preservation"):
        app.img2img(Img2ImgRequest(**BASE, init_images=[Image.new("RGB", (64, 64))], soft_inpainting=True,
                                   inpaint_detail_preservation=0.5))
    assert Img2ImgRequest(**BASE, soft_inpainting=True).soft_settings() is None  # no mask: plain img2img
