"""Classifier-free guidance (Ho & Salimans 2022) with composable diffusion (Liu et al. 2022) around a denoiser.

    denoised = uncond + sum_i w_i * scale * (cond_i - uncond)

All prompt parts of all images and the unconditional rows go through the model in one batched call. A plain prompt
is the one-part case with weight 1; then scale == 1 makes the result independent of uncond, and its pass is
skipped. Per-step hooks (A1111's on_cfg_denoiser / on_cfg_denoised / on_cfg_after_cfg) are plain callables handed
in by the run; each receives a params object it may modify.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from modules.sampling.cfg_hooks import AfterCFGParams, CFGHooks, CombineParams, DenoisedParams, DenoiserParams


@dataclass(frozen=True)
class MultiCond:
    """Every prompt part of every image: `tensor` rows, and per image the (row, weight) pairs of its parts.

    Rows are laid out image after image, part after part, so part j of image i sits at row offset(i) + j.
    """

    tensor: Any  # [N, T, C], a dict of such tensors, or a modules.conditioning.types.Conditioning
    parts: tuple[tuple[tuple[int, float], ...], ...]

    @classmethod
    def single(cls, cond) -> MultiCond:
        """One part of weight 1 per image: cond row i belongs to image i."""
        return cls(cond, tuple(((i, 1.0),) for i in range(_batch_len(cond))))

    @classmethod
    def from_parts(cls, per_image: Sequence[Sequence[tuple[Any, float]]]) -> MultiCond:
        """From `[[(cond [T, C] or dict, weight), ...] per image]`, as `AND`-split prompts produce."""
        rows: list[Any] = []
        parts: list[tuple[tuple[int, float], ...]] = []
        for image_parts in per_image:
            parts.append(tuple((len(rows) + j, float(w)) for j, (_, w) in enumerate(image_parts)))
            rows.extend(c for c, _ in image_parts)
        return cls(_stack(rows), tuple(parts))

    @property
    def is_plain(self) -> bool:
        """Each image has exactly one part with weight 1 (plain CFG)."""
        return all(len(p) == 1 and p[0][1] == 1.0 for p in self.parts)


@dataclass
class CFGDenoiser:
    """A denoiser with guidance: `__call__(x [B, C, H, W], sigma [B]) -> denoised [B, C, H, W]`.

    cond: Tensor [B, T, C] / dict (one part per image), a `MultiCond`, or a callable `step -> either` for prompt
    schedules (step counts model calls, as A1111's prompt editing does). uncond: Tensor [B, T', C] / dict, a
    callable, or None (no guidance). Tensors need T == T'; `Conditioning` values (modules/conditioning/types.py)
    may differ: their own `cat` keeps each row's length for the model wrapper. image_cond [B, C', H, W] is
    concatenated by the model (inpainting); model_kwargs are passed to the denoiser unchanged.
    keep_mask/init_latent: after guidance, denoised = init_latent * keep_mask + (1 - keep_mask) * denoised.
    """

    denoiser: Callable
    cond: Any
    uncond: Any
    cfg_scale: float
    image_cond: torch.Tensor | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    hooks: CFGHooks = field(default_factory=CFGHooks)
    total_steps: int = 0
    keep_mask: torch.Tensor | None = None
    init_latent: torch.Tensor | None = None
    s_min_uncond: float = 0.0  # NGMS: below this sigma the uncond pass is skipped on odd steps (0: never)
    s_min_uncond_all: bool = False  # NGMS on every step, not only odd ones
    skip_early_cond: float = 0.0  # skip the uncond pass (CFG off) while model call / skip_early_total <= this
    skip_early_total: int = 0  # A1111's cfg_denoiser.total_steps: the pass's steps, doubled for second order
    rows_per_image: bool = False  # hand the denoiser `image_rows` (see `image_rows`) for exact per-image batches
    uncond_skipped: bool = False  # set once NGMS skipped an uncond pass (the run writes "NGMS" to the infotext)
    early_skipped: bool = False  # set once the early-steps rule applied (the run writes "Skip Early CFG")
    step: int = 0
    sampling_step: int = 0
    _cond_cache: Any = field(default=None, repr=False, compare=False)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.guided(x, sigma, **kwargs)[0]

    def guided(self, x: torch.Tensor, sigma: torch.Tensor, scale_multiplier: float = 1.0,
               need_uncond: bool = False, **kwargs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(guided denoised [B, ...], unconditional denoised [B, ...] or None when its pass was skipped).

        kwargs (a sampler's extra_args) go to the denoiser with `model_kwargs`.
        """
        cond = _at(self.cond, self.step)
        cond = cond if isinstance(cond, MultiCond) else MultiCond.single(cond)
        uncond = _at(self.uncond, self.step)
        scale = self.cfg_scale * scale_multiplier
        with_uncond = uncond is not None and (need_uncond or scale != 1.0 or not cond.is_plain)
        early = uncond is not None and self._skips_early()  # before NGMS, which it overrides (A1111)
        skip = with_uncond and (early or (not need_uncond and self._skips_uncond(sigma)))
        with_uncond = with_uncond and not skip
        params = self._inputs(x, sigma, cond, uncond if with_uncond else None)
        for hook in self.hooks.on_denoiser:
            hook(params)
        conds = (params.text_cond, params.text_uncond) if with_uncond else (params.text_cond,)
        extra = {**self.model_kwargs, **kwargs}
        if self.rows_per_image:
            extra["image_rows"] = image_rows(cond, with_uncond)
        if params.image_cond is not None:
            extra["concat"] = params.image_cond
        call = self.hooks.model_call
        batch_cond = self._cond_batch(conds)
        out = (self.denoiser(params.x, params.sigma, cond=batch_cond, **extra) if call is None
               else call(self.denoiser, params.x, params.sigma, batch_cond, extra))  # [N (+ B), C, H, W]
        out_params = DenoisedParams(out, self.sampling_step, self.total_steps, self.denoiser)
        for on_denoised in self.hooks.on_denoised:
            on_denoised(out_params)
        out = out_params.x
        batch = x.shape[0]
        denoised_uncond = out[-batch:] if with_uncond else None
        if skip:  # as A1111: each image's first part stands in for uncond, at scale 1
            denoised = _combine(out, cond, out[[p[0][0] for p in cond.parts]], 1.0)  # [B, C, H, W]
        elif self.hooks.combine is not None and with_uncond:
            denoised = self.hooks.combine(CombineParams(out, cond.parts, batch, scale, params.text_uncond,
                                                        self))  # [B, C, H, W]
        else:
            denoised = _combine(out, cond, denoised_uncond, scale)  # [B, C, H, W]
        if self.keep_mask is not None:
            assert self.init_latent is not None  # a keep_mask comes with the latent it keeps (inpainting)
            denoised = self.init_latent * self.keep_mask + (1 - self.keep_mask) * denoised
        after = AfterCFGParams(denoised, self.sampling_step, self.total_steps)
        for on_after_cfg in self.hooks.on_after_cfg:
            on_after_cfg(after)
        self.step += 1
        return after.x, denoised_uncond

    def _skips_early(self) -> bool:
        """A1111's "Ignore negative prompt during early sampling" (skip_early_cond): model calls with
        call / total <= the fraction run without the negative prompt, at CFG scale 1; unlike NGMS also for
        samplers that want the unconditional result (they get the guided one instead, as in A1111)."""
        if self.skip_early_cond == 0 or self.skip_early_total <= 0:
            return False
        if self.step / self.skip_early_total > self.skip_early_cond:
            return False
        self.early_skipped = True
        return True

    def _skips_uncond(self, sigma: torch.Tensor) -> bool:
        """Negative Guidance minimum sigma (A1111's `s_min_uncond`): skip the uncond pass once sigma is below it,
        on odd model calls only unless `s_min_uncond_all`."""
        if self.s_min_uncond <= 0 or not (self.step % 2 or self.s_min_uncond_all):
            return False
        if float(sigma.reshape(-1)[0]) >= self.s_min_uncond:
            return False
        self.uncond_skipped = True
        return True

    def _cond_batch(self, conds: tuple):
        """cond and uncond rows in one batch; reused while they are the same objects (static prompts) and no hook
        could have changed them in place."""
        if self.hooks.on_denoiser:
            return _cat(list(conds))
        cached = self._cond_cache
        if cached is not None and len(cached[0]) == len(conds) and all(a is b for a, b in zip(cached[0], conds)):
            return cached[1]
        batch = _cat(list(conds))
        self._cond_cache = (conds, batch)
        return batch

    def step_callback(self, callback: Callable | None) -> Callable:
        """Wrap a sampler callback so hooks see the index of the step they run in as `sampling_step`."""
        def on_step(info: dict) -> None:
            self.sampling_step = int(info["i"]) + 1  # step i is done: the next model calls belong to step i + 1
            for hook in self.hooks.on_step:
                hook(info)
            if callback is not None:
                callback(info)
        return on_step

    def _inputs(self, x, sigma, cond: MultiCond, uncond) -> DenoiserParams:
        x_in, sigma_in, image_in = x, sigma, self.image_cond  # [N, C, H, W] with N == B for plain prompts
        if any(len(p) != 1 for p in cond.parts):
            counts = torch.tensor([len(p) for p in cond.parts], device=x.device)
            x_in = x.repeat_interleave(counts, dim=0)  # [N, C, H, W]
            sigma_in = sigma.repeat_interleave(counts, dim=0)  # [N]
            image_in = None if image_in is None else image_in.repeat_interleave(counts, dim=0)
        if uncond is not None:
            x_in = torch.cat([x_in, x])  # [N + B, C, H, W]
            sigma_in = torch.cat([sigma_in, sigma])
            image_in = None if image_in is None or self.image_cond is None else torch.cat([image_in, self.image_cond])
        return DenoiserParams(x_in, image_in, sigma_in, self.sampling_step, self.total_steps,
                              cond.tensor, uncond, self)


def image_rows(cond: MultiCond, with_uncond: bool) -> tuple[tuple[int, ...], ...]:
    """The rows of the model's batch that belong to each image: its prompt parts, then its unconditional row (the
    unconditional rows follow all the parts' rows, one per image).

    >>> two = MultiCond.single(torch.zeros(2, 1, 1))
    >>> image_rows(two, True), image_rows(two, False)
    (((0, 2), (1, 3)), ((0,), (1,)))
    """
    parts = sum(len(p) for p in cond.parts)
    return tuple(tuple(row for row, _ in image) + ((parts + i,) if with_uncond else ())
                 for i, image in enumerate(cond.parts))


def _combine(out, cond: MultiCond, denoised_uncond, scale: float) -> torch.Tensor:
    """uncond + sum_i w_i * scale * (cond_i - uncond), per image; without uncond, the cond rows themselves."""
    batch = len(cond.parts)
    if denoised_uncond is None:
        return out[[p[0][0] for p in cond.parts]]
    if cond.is_plain:
        return torch.lerp(denoised_uncond, out[:batch], scale)  # uncond + scale * (cond - uncond)
    denoised = denoised_uncond.clone()
    for i, parts in enumerate(cond.parts):
        for row, weight in parts:
            denoised[i] += (out[row] - denoised_uncond[i]) * (weight * scale)
    return denoised


def _at(value, step: int):
    """A conditioning value, or a schedule `step -> value`."""
    return value(step) if callable(value) else value


def _batch_len(cond) -> int:
    if isinstance(cond, dict):
        return next(iter(cond.values())).shape[0]
    return cond.shape[0] if isinstance(cond, torch.Tensor) else len(cond)


def _stack(rows: list) -> Any:
    if isinstance(rows[0], dict):
        return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
    if not isinstance(rows[0], torch.Tensor):  # a Conditioning: its own stacking keeps pooled and time ids
        return type(rows[0]).stack(rows)
    return torch.stack(rows)


def _cat(conds: list) -> Any:
    if len(conds) == 1:
        return conds[0]
    if isinstance(conds[0], dict):
        return {k: torch.cat([c[k] for c in conds]) for k in conds[0]}
    if not isinstance(conds[0], torch.Tensor):  # a Conditioning: its own cat records each row's token length
        return type(conds[0]).cat(conds)
    return torch.cat(conds)
