"""tile_colorfix and tile_colorfix+sharp: after each UNet call the prediction's low frequencies are swapped for the
control image's, so a tile ControlNet adds detail without drifting in colour (sd-webui-controlnet's `hook.py`).

Per call, with x_t the UNet's input latents, t the timestep rounded to an integer, ᾱ_t the noise schedule and k the
unit's "Variation" (threshold_a, 3 to 32 latent pixels; doubled in the hires pass):
  x̂0 = the clean latents the prediction implies;
  x0 = x̂0 − blur_k(x̂0) + blur_k(z_ref), z_ref the control image's latents (VAE, posterior mean);
  +sharp: the unconditional rows take d·blur_k(x0) + (1 − d)·x0 instead, d = Sharpness (threshold_b) / 100;
  the prediction is re-derived from x0 and mixed in by w = the unit's weight clipped to [0, 1].
blur_k is a (2k + 1)² box average with edges repeated. The extension reads every UNet output as ε; Easel converts
through the model's own prediction type, which is the same maths for ε models and the right one for v models.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

DEFAULT_VARIATION = 8
DEFAULT_SHARPNESS = 1.0


def box_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    """[B, C, h, w] → the mean over each (2k + 1)² window, borders repeated outward.

    >>> box_blur(torch.tensor([[[[0.0, 0.0, 3.0]]]]), 1).tolist()
    [[[[0.0, 1.0, 2.0]]]]
    """
    padded = F.pad(x, (k, k, k, k), mode="replicate")  # [B, C, h + 2k, w + 2k]
    return F.avg_pool2d(padded, 2 * k + 1, stride=1)  # [B, C, h, w]


def schedule_at(alphas_cumprod: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """ᾱ at the timesteps t [B] rounded to integers, as [B, 1, 1, 1] float64 (like's device)."""
    index = torch.round(t.double()).long().clamp(0, len(alphas_cumprod) - 1).cpu()
    return alphas_cumprod.double()[index].to(like.device).view(-1, 1, 1, 1)


def x0_from(prediction: torch.Tensor, x_t: torch.Tensor, a: torch.Tensor, kind: str) -> torch.Tensor:
    """The clean latents a UNet prediction (ε or v) implies at ᾱ = a [B, 1, 1, 1].

    >>> a = torch.tensor(0.25).view(1, 1, 1, 1); x0, eps = torch.ones(1, 1, 1, 1), torch.full((1, 1, 1, 1), 2.0)
    >>> x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
    >>> [round(x0_from(p, x_t, a, kind).item(), 6) for p, kind in
    ...  ((eps, "epsilon"), (prediction_from(x0, x_t, a, "v_prediction"), "v_prediction"))]
    [1.0, 1.0]
    """
    x_t, prediction = x_t.double(), prediction.double()
    if kind == "v_prediction":
        return a.sqrt() * x_t - (1 - a).sqrt() * prediction
    return (x_t - (1 - a).sqrt() * prediction) / a.sqrt()


def prediction_from(x0: torch.Tensor, x_t: torch.Tensor, a: torch.Tensor, kind: str) -> torch.Tensor:
    """The prediction (ε or v) that leads from x_t to x0 at ᾱ = a."""
    x_t, x0 = x_t.double(), x0.double()
    eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
    return a.sqrt() * eps - (1 - a).sqrt() * x0 if kind == "v_prediction" else eps


def colorfix(prediction: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, reference: torch.Tensor,
             alphas_cumprod: torch.Tensor, kind: str, *, weight: float, variation: int,
             sharpness: float | None = None, cond_marks: torch.Tensor | None = None) -> torch.Tensor:
    """One UNet call's prediction [B, 4, h, w] with its colours pulled to `reference` [B, 4, h, w] (module docstring).
    `sharpness` given: the +sharp variant, with `cond_marks` [B] (1 cond row, 0 uncond) saying which rows are
    unconditional. x_t [B, ≥4, h, w] (an inpainting model's extra channels are ignored), t [B]."""
    x_t = x_t[:, :prediction.shape[1]]  # [B, 4, h, w]
    a = schedule_at(alphas_cumprod, t.reshape(-1).expand(x_t.shape[0]), x_t)  # [B, 1, 1, 1]
    k = int(variation)
    predicted = x0_from(prediction, x_t, a, kind)  # [B, 4, h, w] float64
    x0 = predicted - box_blur(predicted, k) + box_blur(reference.double(), k)
    if sharpness is not None:
        detail = float(sharpness) * 0.01  # the extension's scale: Sharpness 1 (its default) gives 0.01
        soft = detail * box_blur(x0, k) + (1 - detail) * x0
        marks = (torch.ones(x0.shape[0]) if cond_marks is None else cond_marks).to(x0).view(-1, 1, 1, 1)
        x0 = marks * x0 + (1 - marks) * soft
    w = max(0.0, min(1.0, float(weight)))
    mixed = prediction_from(x0, x_t, a, kind) * w + prediction.double() * (1 - w)
    return mixed.to(prediction.dtype)
