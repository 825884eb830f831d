"""Seamless tiling: circular convolutions while a job runs, the picture wraps, everything is put back after."""
import numpy as np
import pytest
import torch

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.models.tiling import tiled
from modules.pipeline.request import GenerationRequest
from tests.pipeline.conftest import builtin_checkpoint, make_app

BASE = dict(prompt="a red circle", steps=4, width=64, height=64)


def padding_modes(model) -> list[str]:
    return [m.padding_mode for net in (model.unet, model.vae) for m in net.modules()
            if isinstance(m, torch.nn.Conv2d)]


def seam_ratio(image, axis: int) -> float:
    """Mean jump across the wrap (last row/column → first) over the mean jump between neighbours inside."""
    a = np.moveaxis(np.asarray(image.convert("RGB"), dtype=float), axis, 0)
    return float(np.abs(a[0] - a[-1]).mean() / np.abs(a[1:] - a[:-1]).mean())


def shift_error(model, roll: int) -> tuple[float, float]:
    """How far UNet and VAE decoder are from shift-equivariance: f(roll(x)) vs roll(f(x)), relative."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, model.latent_channels, 16, 16, generator=gen)  # [1, C, 16, 16]
    context = torch.randn(1, 77, model.text_encoder.config.hidden_size, generator=gen)
    eps, eps_rolled = (model.unet_forward(v, 500, context) for v in (x, x.roll(roll, -1)))
    img, img_rolled = (model.decode(v) for v in (x, x.roll(roll, -1)))  # [1, 3, 16f, 16f]
    f = model.vae_scale_factor
    return (float((eps.roll(roll, -1) - eps_rolled).abs().mean() / eps.abs().mean()),
            float((img.roll(roll * f, -1) - img_rolled).abs().mean() / img.abs().mean()))


def test_circular_padding_makes_unet_and_vae_shift_equivariant_and_is_undone(app):
    model = app.models.get(None)
    before = padding_modes(model)
    weights = {k: v.clone() for k, v in model.unet.state_dict().items()}
    plain = shift_error(model, 4)
    with tiled(model):
        assert set(padding_modes(model)) == {"circular"}
        wrapped = shift_error(model, 4)
    assert padding_modes(model) == before
    assert all(torch.equal(weights[k], v) for k, v in model.unet.state_dict().items())
    assert wrapped[0] < 0.02 and wrapped[1] < 0.02  # dtype rounding only
    assert plain[0] > 5 * wrapped[0] and plain[1] > 5 * wrapped[1]  # zero padding breaks it at the border


def test_padding_is_restored_after_an_error(app):
    model = app.models.get(None)
    before = padding_modes(model)
    with pytest.raises(RuntimeError, match="boom"):
        with tiled(model):
            raise RuntimeError("boom")
    assert padding_modes(model) == before
    with pytest.raises(InvalidInput, match="firstpass_image"):  # a job failing inside leaves the model as it was
        app.txt2img(GenerationRequest(**BASE, tiling=True, enable_hr=True, firstpass_image="not an image!"))
    assert padding_modes(model) == before


def test_tiling_request_field_setting_and_infotext(app):
    model = app.models.get(None)
    before = padding_modes(model)
    tiled_run = app.txt2img(GenerationRequest(**BASE, seed=3, tiling=True))
    assert parse_infotext(tiled_run.infotexts[0])["Tiling"] == "True"
    assert padding_modes(model) == before
    plain = app.txt2img(GenerationRequest(**BASE, seed=3))
    assert "Tiling" not in plain.infotexts[0]
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(tiled_run.images[0]))
    by_setting = app.txt2img(GenerationRequest(**BASE, seed=3, override_settings={"tiling": True}))
    assert np.array_equal(np.asarray(by_setting.images[0]), np.asarray(tiled_run.images[0]))
    with pytest.raises(InvalidInput, match="tiling"):
        app.txt2img(GenerationRequest(**BASE, tiling="yes"))


def test_img2img_tiling(app):
    from modules.pipeline.img2img_request import Img2ImgRequest

    source = app.txt2img(GenerationRequest(**BASE, seed=1)).images[0]
    result = app.img2img(Img2ImgRequest(**BASE, seed=1, init_images=(source,), tiling=True))
    assert parse_infotext(result.infotexts[0])["Tiling"] == "True"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_tiled_picture_of_the_builtin_model_wraps(tmp_path, seed):
    """The trained built-in model draws smooth pictures: without tiling the wrap is a visible seam (2-11 times
    the jump between neighbouring pixels), with it no larger than an ordinary step."""
    app = make_app(tmp_path, builtin_checkpoint("easel-builtin"))
    images = [app.txt2img(GenerationRequest(**BASE, seed=seed, tiling=t)).images[0] for t in (False, True)]
    assert max(seam_ratio(images[1], 0), seam_ratio(images[1], 1)) < 1.6
    assert max(seam_ratio(images[0], 0), seam_ratio(images[0], 1)) > 2.0


def test_tiling_and_ngms_with_hires_on_the_builtin_models(builtin_app):
    """Factor-4 VAE and 9-channel UNet: tiled hires with NGMS runs, writes its keys and restores the model."""
    model = builtin_app.models.get(None)
    before = padding_modes(model)
    req = GenerationRequest(**BASE, seed=2, tiling=True, s_min_uncond=100.0, enable_hr=True, hr_scale=1.5,
                            hr_second_pass_steps=2, override_settings={"inpainting_mask_weight": 0.5})
    result = builtin_app.txt2img(req)
    fields = parse_infotext(result.infotexts[0])
    assert result.images[0].size == (96, 96) and fields["Tiling"] == "True" and fields["NGMS"] == "100"
    assert padding_modes(model) == before
