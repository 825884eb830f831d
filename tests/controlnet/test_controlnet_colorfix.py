"""tile_colorfix and tile_colorfix+sharp (modules/controlnet/colorfix.py): the maths on known latents, and a
colour-fix unit through txt2img on the tiny SD 1.x model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.controlnet.colorfix import box_blur, colorfix, prediction_from, schedule_at, x0_from
from modules.controlnet.units import ControlUnit, ResizeMode
from modules.pipeline.request import GenerationRequest
from modules.sampling.denoiser import scaled_linear_alphas_cumprod
from tests.fixtures.tiny_controlnet import make_tiny_controlnet
from tests.pipeline.conftest import make_app

ALPHAS = scaled_linear_alphas_cumprod()  # [1000]


def latents(seed: int, shape=(2, 4, 8, 8)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def noisy(x0: torch.Tensor, eps: torch.Tensor, t: float) -> torch.Tensor:
    a = float(ALPHAS[round(t)])
    return a ** 0.5 * x0 + (1 - a) ** 0.5 * eps


def test_box_blur_is_the_window_mean_with_repeated_edges():
    x = latents(0, (1, 1, 5, 6))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")[0, 0]
    expected = torch.stack([torch.stack([padded[i:i + 5, j:j + 5].mean() for j in range(6)]) for i in range(5)])
    assert torch.allclose(box_blur(x, 2)[0, 0], expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction"])
def test_the_low_frequencies_become_the_references(kind):
    """x̂0 = flat colour + stripes, reference = another flat colour: the fixed prediction implies
    x0 = x̂0 − blur(x̂0) + the reference's colour, whose mean is the reference's, for ε and v models alike."""
    t = torch.tensor([500.4, 500.4])
    detail = torch.zeros(2, 4, 8, 8)
    detail[..., ::2, :] += 0.3
    detail[..., 1::2, :] -= 0.3  # stripes
    x0 = torch.full((2, 4, 8, 8), 0.7) + detail
    eps = latents(1)
    x_t = noisy(x0, eps, 500)
    prediction = prediction_from(x0, x_t, schedule_at(ALPHAS, t, x_t), kind).float()
    reference = torch.full((2, 4, 8, 8), -0.4)
    out = colorfix(prediction, x_t, t, reference, ALPHAS, kind, weight=1.0, variation=8)
    implied = x0_from(out, x_t, schedule_at(ALPHAS, t, x_t), kind)
    expected = x0 - box_blur(x0, 8) - 0.4
    assert (implied - expected).abs().max() < 1e-4
    assert (implied.mean() - (-0.4)).abs() < 0.05  # the colour moved to the reference's


def test_a_reference_equal_to_the_prediction_changes_nothing_and_weight_mixes():
    t = torch.tensor([300.0, 700.0])
    x0, eps = latents(2), latents(3)
    x_t = torch.cat([noisy(x0[:1], eps[:1], 300), noisy(x0[1:], eps[1:], 700)])
    same = colorfix(eps, x_t, t, x0, ALPHAS, "epsilon", weight=1.0, variation=3)
    assert (same - eps).abs().max() < 1e-4
    other = latents(4)
    full = colorfix(eps, x_t, t, other, ALPHAS, "epsilon", weight=1.0, variation=3)
    half = colorfix(eps, x_t, t, other, ALPHAS, "epsilon", weight=0.5, variation=3)
    over = colorfix(eps, x_t, t, other, ALPHAS, "epsilon", weight=1.7, variation=3)  # clipped to 1
    assert (half - (full + eps) / 2).abs().max() < 1e-5 and torch.allclose(over, full)
    assert (full - eps).abs().max() > 0.1


def test_sharp_softens_only_the_unconditional_rows():
    t = torch.tensor([400.0, 400.0])
    eps, x_t, reference = latents(5), latents(6), latents(7)
    plain = colorfix(eps, x_t, t, reference, ALPHAS, "epsilon", weight=1.0, variation=4)
    sharp = colorfix(eps, x_t, t, reference, ALPHAS, "epsilon", weight=1.0, variation=4, sharpness=2.0,
                     cond_marks=torch.tensor([1.0, 0.0]))
    assert (sharp[0] - plain[0]).abs().max() < 1e-6
    a = schedule_at(ALPHAS, t, x_t)[1:]
    x0 = x0_from(plain[1:], x_t[1:], a, "epsilon")
    soft = 0.02 * box_blur(x0, 4) + 0.98 * x0  # Sharpness 2 → d = 0.02, the extension's scale
    assert (x0_from(sharp[1:], x_t[1:], a, "epsilon") - soft).abs().max() < 1e-4


# ---- through txt2img --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("cn-colorfix"), tiny_checkpoint, "--precision", "full")
    make_tiny_controlnet(app.paths.models_dir / "ControlNet", "control_tiny_tile")
    return app


def red_image() -> Image.Image:
    array = np.zeros((64, 64, 3), np.uint8)
    array[..., 0] = 230
    array[20:40, 20:40] = (40, 200, 60)
    return Image.fromarray(array)


def request(*units) -> GenerationRequest:
    return GenerationRequest(prompt="a blue sky", negative_prompt="red", steps=6, width=64, height=64, seed=5,
                             sampler_name="Euler", cfg_scale=7.0, controlnet_units=tuple(units))


def generate(app, *units) -> np.ndarray:
    return np.asarray(app.txt2img(request(*units)).images[0], float)


def tile_unit(module: str, **fields) -> ControlUnit:
    return ControlUnit(enabled=True, module=module, model="control_tiny_tile", image=red_image(),
                       resize_mode=ResizeMode.JUST_RESIZE, **fields)


def test_colorfix_pulls_the_final_latents_low_frequencies_to_the_control_images(app):
    """Euler's last step returns the guided x0, whose low frequencies each call replaced by the control latent's
    (x0 = x̂0 − blur(x̂0) + blur(z)): the final latent's blur lies several times closer to the control's than with
    the same tile model without the colour fix (measured 3.0 against 13.4)."""
    from tests.controlnet.test_controlnet_parity import easel_latents

    model = app.models.get(None)
    image = torch.from_numpy(np.asarray(red_image(), np.float32) / 255).permute(2, 0, 1)[None]  # [1, 3, 64, 64]
    target = box_blur(model.encode(image, sample=False), 4)  # [1, 4, 8, 8]
    resample = easel_latents(app, request(tile_unit("tile_resample")))
    fixed = easel_latents(app, request(tile_unit("tile_colorfix", threshold_a=4)))
    sharp = easel_latents(app, request(tile_unit("tile_colorfix+sharp", threshold_a=4, threshold_b=2.0)))
    off = [(box_blur(latent, 4) - target).abs().max().item() for latent in (resample, fixed)]
    assert off[1] < off[0] / 3, off
    assert (sharp - fixed).abs().max() > 1e-4


def test_colorfix_at_weight_zero_is_bit_identical_to_no_unit(app):
    assert np.array_equal(generate(app, tile_unit("tile_colorfix", weight=0.0)), generate(app))
