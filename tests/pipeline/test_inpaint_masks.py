"""A1111 1.10's `mask_round` and `latent_mask`: what the latent blend and the 9-channel conditioning are given."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.pipeline import img2img
from modules.pipeline.img2img_request import Img2ImgRequest, decoded
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=2, width=64, height=64, seed=77, mask_blur=0,
            inpaint_full_res=False)


def source(size=(64, 64)):
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def grey_box(value, box=(16, 16, 48, 48), size=(64, 64), mode="L"):
    """A mask that is `value` (0-255) inside the box; as mode "RGBA", a painted layer with that alpha."""
    if mode == "RGBA":
        mask = Image.new("RGBA", size, (0, 0, 0, 0))
        mask.paste(Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (255, 255, 255, value)), box[:2])
        return mask
    mask = Image.new("L", size, 0)
    mask.paste(value, box)
    return mask


@pytest.fixture
def seen(monkeypatch):
    """What each CFGDenoiser of img2img was built with: keep masks [B, 1, h, w] and image conditioning."""
    record = {"keep": [], "image_cond": []}
    real = img2img.CFGDenoiser

    def spy(*args, **kwargs):
        record["keep"].append(kwargs.get("keep_mask"))
        record["image_cond"].append(kwargs.get("image_cond"))
        return real(*args, **kwargs)

    monkeypatch.setattr(img2img, "CFGDenoiser", spy)
    return record


def levels(tensor) -> set[float]:
    return {round(v, 3) for v in torch.unique(tensor.float()).tolist()}


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    return make_app(tmp_path, tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint)


def test_mask_round_rounds_the_latent_blend_and_the_conditioning(any_app, seen):
    req = Img2ImgRequest(**BASE, init_images=(source(),), mask=grey_box(160))  # 160/255 ≈ 0.63 inside
    any_app.img2img(req)
    assert levels(seen["keep"][0]) == {0.0, 1.0}
    any_app.img2img(req.replace(mask_round=False))
    assert len(levels(seen["keep"][1])) > 2  # the resize to latent size leaves grey levels that stay grey
    if seen["image_cond"][0] is not None:  # 9 channels: channel 0 is the mask the UNet sees
        assert levels(seen["image_cond"][0][:, 0]) == {0.0, 1.0}
        assert levels(seen["image_cond"][1][:, 0]) == {0.0, 0.627}


def test_mask_round_decides_whether_a_faint_painted_mask_counts(app):
    faint = grey_box(100, mode="RGBA")  # alpha 100 ≤ 128: rounded away
    with pytest.raises(InvalidInput, match="mask"):
        app.img2img(Img2ImgRequest(**BASE, init_images=(source(),), mask=faint))
    result = app.img2img(Img2ImgRequest(**BASE, init_images=(source(),), mask=faint, mask_round=False))
    assert result.images[0].size == (64, 64)


def test_latent_mask_replaces_the_mask_in_the_latent_blend(any_app, seen):
    mask = grey_box(255, (0, 0, 32, 64))  # left half
    latent = grey_box(255, (32, 0, 64, 64))  # right half
    any_app.img2img(Img2ImgRequest(**BASE, init_images=(source(),), mask=mask))
    any_app.img2img(Img2ImgRequest(**BASE, init_images=(source(),), mask=mask, latent_mask=latent))
    keep_plain, keep_latent = seen["keep"][0][0, 0], seen["keep"][1][0, 0]  # [h, w]
    half = keep_plain.shape[1] // 2
    assert torch.all(keep_plain[:, :half] == 0) and torch.all(keep_plain[:, half:] == 1)
    assert torch.all(keep_latent[:, :half] == 1) and torch.all(keep_latent[:, half:] == 0)
    if seen["image_cond"][1] is not None:  # the conditioning keeps the real mask (A1111's image_mask)
        assert torch.equal(seen["image_cond"][0][:, 0], seen["image_cond"][1][:, 0])


def test_latent_mask_drives_fill_and_is_refused_without_a_mask(app):
    mask, latent = grey_box(255, (0, 0, 32, 64)), grey_box(255, (32, 0, 64, 64))
    fill = dict(BASE, inpainting_fill=0, denoising_strength=0.0001)  # almost no change: the filled pixels show
    a = app.img2img(Img2ImgRequest(**fill, init_images=(source(),), mask=mask)).images[0]
    b = app.img2img(Img2ImgRequest(**fill, init_images=(source(),), mask=mask, latent_mask=latent)).images[0]
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(InvalidInput, match="latent_mask"):
        app.img2img(Img2ImgRequest(**BASE, init_images=(source(),), latent_mask=latent))


def test_api_style_base64_latent_mask_is_decoded():
    buffer = io.BytesIO()
    grey_box(255).save(buffer, format="PNG")
    text = base64.b64encode(buffer.getvalue()).decode()
    req = decoded(Img2ImgRequest(**BASE, init_images=(source(),), mask=text, latent_mask=text))
    assert isinstance(req.latent_mask, Image.Image) and req.latent_mask.size == (64, 64)
    with pytest.raises(InvalidInput, match="latent_mask"):
        decoded(Img2ImgRequest(**BASE, init_images=(source(),), mask=text, latent_mask="not base64!"))
