"""A1111's model call through the sampler object's inner model, for extensions that replace it.

A1111's guidance calls `model_wrap_cfg.inner_model(x, sigma, cond={…})` once per step (a k_diffusion
`CompVisDenoiser`); extensions replace that object's `forward` and call the original with rows of their choosing
(Tiled Diffusion: the latent cut into tiles, the tiles batched). Easel's guidance calls its own denoiser; when the
run's sampler object (`p.sampler`) has such a replacement, each model call goes through it instead
(`CFGHooks.model_call`). The conds reach it in A1111's layout, `{"c_crossattn": [tensor], "c_concat": [image_cond]}`
(SDXL: `{"crossattn", "vector", "c_concat"}`), and the original `forward` turns what it is given back into Easel's
conditioning for the same model call, its rows repeating the step's rows in order.
"""
from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from modules.extensions.compat.cfg_view import cond_for_extension, cond_from_extension


@dataclasses.dataclass(frozen=True)
class StepCall:
    """One model call of Easel's guidance: its denoiser and what it would have been called with."""

    denoiser: Callable
    cond: Any  # the cond batch: a Conditioning, a tensor [N, T, C] or a dict of such
    extra: dict  # the denoiser's keyword arguments (concat, control, image_rows …)
    rows: int  # N


_CURRENT: contextvars.ContextVar[StepCall | None] = contextvars.ContextVar("a1111_step_call", default=None)


def replaced_inner_model(sampler) -> Any:
    """The sampler object's inner model when an extension replaced its `forward` (on the object or in a subclass)
    or the model's `apply_model` it calls; None while nothing read `inner_model` or nothing replaced either."""
    from modules.extensions.compat import k_diffusion_external, sd_samplers_timesteps
    from modules.extensions.compat.sd_model_view import apply_model_replaced

    inner = getattr(getattr(sampler, "model_wrap_cfg", None), "model_wrap", None)
    if inner is None or not isinstance(inner, torch.nn.Module):
        return None
    own = k_diffusion_external.BASE_FORWARDS + sd_samplers_timesteps.BASE_FORWARDS
    if "forward" in vars(inner) or type(inner).forward not in own:
        return inner
    if apply_model_replaced(getattr(inner.inner_model, "_loaded", None)):
        return inner
    return None


def model_call_hook(sampler) -> Callable | None:
    """The run's `CFGHooks.model_call` for A1111's sampler object `sampler` (None: no sampler object)."""
    if sampler is None:
        return None

    def call(denoiser: Callable, x: torch.Tensor, sigma: torch.Tensor, cond: Any, extra: dict) -> torch.Tensor:
        from modules.extensions.compat.sd_samplers_timesteps import CompVisTimestepsDenoiser

        inner = replaced_inner_model(sampler)
        if inner is None:
            return denoiser(x, sigma, cond=cond, **extra)
        token = _CURRENT.set(StepCall(denoiser, cond, extra, x.shape[0]))
        try:
            a1111 = a1111_cond(cond, extra.get("concat"), x)
            if isinstance(inner, CompVisTimestepsDenoiser):
                return through_timesteps(inner, x, sigma, a1111)
            return inner(x, sigma, cond=a1111)  # [N, C, H, W]
        finally:
            _CURRENT.reset(token)

    return call


def through_timesteps(inner, x: torch.Tensor, sigma: torch.Tensor, cond: dict) -> torch.Tensor:
    """A timestep sampler's model call as A1111 made it: eps of the variance-preserving input x / √(σ² + 1) at the
    timesteps of σ, then x0 = x − σ·eps [N, C, H, W]."""
    from modules.extensions.compat.k_diffusion_external import CompVisDenoiser
    from modules.sampling.denoiser import append_dims

    t = CompVisDenoiser(inner.inner_model).sigma_to_t(sigma)  # [N]
    scale = append_dims(sigma, x.ndim)
    eps = inner(x / (scale ** 2 + 1) ** 0.5, t, cond=cond)
    return x - scale * eps


def a1111_cond(cond: Any, concat: torch.Tensor | None, x: torch.Tensor) -> dict:
    """A1111's condition dict for a model call: the text conds (fresh tensors) and the image cond, zeros
    [N, 5, 1, 1] where the model takes none (as A1111's txt2img)."""
    text = cond_for_extension(cond)
    image = concat if concat is not None else x.new_zeros(x.shape[0], 5, 1, 1)  # [N, C', H, W]
    if isinstance(text, dict):
        return {**text, "c_concat": [image]}
    return {"c_crossattn": [text], "c_concat": [image]}


def through_step(x: torch.Tensor, sigma: torch.Tensor, cond: dict | None = None, **kwargs) -> torch.Tensor:
    """The current step's model call for rows `x` [M, C, H, W] at `sigma` [M] with A1111's condition dict `cond`:
    x0 [M, C, H, W] from Easel's denoiser."""
    step = _current()
    if cond is None:
        return step.denoiser(x, sigma, cond=step.cond, **step.extra)
    core, extra = _core_args(step, x.shape[0], cond)
    return step.denoiser(x, sigma, cond=core, **extra)


def apply_in_step(x: torch.Tensor, t: torch.Tensor, cond: dict) -> torch.Tensor:
    """ldm's `apply_model` inside the current step: the UNet's output (eps or v) [M, C, H, W] for the model's
    input rows `x` [M, C, H, W] at timesteps `t` [M] with A1111's condition dict `cond`."""
    step = _current()
    model_fn = getattr(step.denoiser, "model_fn", None)
    if model_fn is None:
        raise RuntimeError(f"this sampler's denoiser ({type(step.denoiser).__name__}) does not call the UNet by "
                           "timestep: apply_model is not available with it (docs/a1111-compat.md)")
    core, extra = _core_args(step, x.shape[0], cond)
    return model_fn(x, t, cond=core, **extra)


def _current() -> StepCall:
    step = _CURRENT.get()
    if step is None:
        raise RuntimeError("Easel calls the model through a sampler's inner model only inside a generation's "
                           "sampling step (docs/a1111-compat.md)")
    return step


def _core_args(step: StepCall, rows: int, cond: dict) -> tuple[Any, dict]:
    """Easel's conditioning and the denoiser's keyword arguments for `rows` rows given A1111's condition dict."""
    text = cond["c_crossattn"][0] if "c_crossattn" in cond else {"crossattn": cond["crossattn"],
                                                                 "vector": cond.get("vector")}
    extra = dict(step.extra)
    image = _first(cond.get("c_concat"))
    if image is None or (extra.get("concat") is None and not bool(image.any())):
        extra.pop("concat", None)  # the zeros stand for "no image cond"
    else:
        extra["concat"] = image
    if rows != step.rows:
        extra.pop("image_rows", None)  # which rows make an image is the extension's now
    return cond_from_extension(text, repeat_rows(step.cond, rows)), extra


def _first(value):
    return value[0] if isinstance(value, list) else value


def repeat_rows(cond: Any, rows: int) -> Any:
    """`cond` with `rows` rows, its own rows repeated in order (row i is row i mod N): what stays of Easel's
    conditioning (token lengths, SDXL's pooled and time ids) when an extension batches the step's rows again."""
    n = _rows_of(cond)
    if rows == n:
        return cond
    index = torch.arange(rows) % n
    if isinstance(cond, torch.Tensor):
        return cond[index.to(cond.device)]
    if isinstance(cond, dict):
        return {k: repeat_rows(v, rows) for k, v in cond.items()}
    lengths = None if cond.lengths is None else tuple(cond.lengths[i] for i in index.tolist())
    return dataclasses.replace(cond, cross_attn=repeat_rows(cond.cross_attn, rows), lengths=lengths,
                               pooled=None if cond.pooled is None else repeat_rows(cond.pooled, rows),
                               added={k: repeat_rows(v, rows) for k, v in cond.added.items()})


def _rows_of(cond: Any) -> int:
    if isinstance(cond, dict):
        return _rows_of(next(iter(cond.values())))
    if isinstance(cond, torch.Tensor):
        return cond.shape[0]
    return cond.cross_attn.shape[0]
