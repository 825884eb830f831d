"""The per-step hook points of classifier-free guidance and the params objects they receive (A1111's
on_cfg_denoiser / on_cfg_denoised / on_cfg_after_cfg).

Kept apart from `cfg` (the guidance maths) and free of torch so that run hooks, script hosts and requests can name
them without importing torch: the page is served before torch loads (docs/architecture.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class DenoiserParams:
    """Before the model call (A1111 CFGDenoiserParams); hooks may replace any field."""

    x: torch.Tensor  # [N + B, C, H, W]
    image_cond: torch.Tensor | None
    sigma: torch.Tensor  # [N + B]
    sampling_step: int
    total_sampling_steps: int
    text_cond: Any
    text_uncond: Any
    denoiser: Any = None  # the guidance object making this call (modules/sampling/cfg.py CFGDenoiser), as A1111


@dataclass
class DenoisedParams:
    """After the model call, before combining (A1111 CFGDenoisedParams)."""

    x: torch.Tensor  # [N + B, C, H, W]: cond rows then uncond rows
    sampling_step: int
    total_sampling_steps: int
    inner_model: Any = None


@dataclass
class AfterCFGParams:
    """After combining (A1111 AfterCFGCallbackParams)."""

    x: torch.Tensor  # [B, C, H, W]
    sampling_step: int
    total_sampling_steps: int


@dataclass
class CombineParams:
    """What guidance combines (A1111's CFGDenoiser.combine_denoised arguments): the model's output, each image's
    (row, weight) prompt parts, how many uncond rows end it, the scale, and the uncond text conditioning."""

    x_out: torch.Tensor  # [N + B, C, H, W]: cond rows then the B uncond rows
    parts: tuple[tuple[tuple[int, float], ...], ...]
    batch: int
    scale: float
    text_uncond: Any
    denoiser: Any = None  # the guidance object making this call (step, sampling_step, total_steps, keep_mask …)


@dataclass(frozen=True)
class CFGHooks:
    """Per-step callables of one run, called in order; each gets the params object and may modify it."""

    on_denoiser: tuple[Callable[[DenoiserParams], None], ...] = ()
    on_denoised: tuple[Callable[[DenoisedParams], None], ...] = ()
    on_after_cfg: tuple[Callable[[AfterCFGParams], None], ...] = ()
    # after each sampler step, with the sampler's progress dict ({x, i, sigma, sigma_hat, denoised}); x is the live
    # latent, so a change in place reaches the next step (A1111's KDiffusionSampler.callback_state)
    on_step: tuple[Callable[[dict], None], ...] = ()
    # replaces the combination uncond + sum w * scale * (cond - uncond) when the uncond pass ran: returns the
    # guided denoised [B, C, H, W] (A1111 extensions override CFGDenoiser.combine_denoised, e.g. Dynamic
    # Thresholding); one per run, a later one wins
    combine: Callable[[CombineParams], Any] | None = None
    # makes each model call in place of `denoiser(x, sigma, cond=cond, **kwargs)`: gets those four and returns the
    # denoised rows [N (+ B), C, H, W] (A1111 extensions replace the sampler's inner model, e.g. Tiled Diffusion
    # denoises the latent tile by tile and calls the model once per tile batch); one per run, a later one wins
    model_call: Callable[[Callable, Any, Any, Any, dict], Any] | None = None

    def plus(self, other: CFGHooks) -> CFGHooks:
        """These hooks, then `other`'s, at each point."""
        return CFGHooks(self.on_denoiser + other.on_denoiser, self.on_denoised + other.on_denoised,
                        self.on_after_cfg + other.on_after_cfg, self.on_step + other.on_step,
                        other.combine or self.combine, other.model_call or self.model_call)
