"""Named hook points of a run and the context hooks see (`RunContext`); a failing hook is isolated
(docs/architecture.md §5).

A run calls `hooks.call(point, ctx, **kwargs)` at each point of `HOOK_POINTS`, in A1111's order:

    setup → before_process → process → per batch (before_process_batch → after_extra_networks_activate →
    process_batch → process_before_every_sampling → [extra_noise] → [before_hr → [extra_noise]] → post_sample →
    postprocess_batch → postprocess_batch_list → per image (postprocess_image → postprocess_maskoverlay →
    before_image_saved → image_saved)) → postprocess

A hook may change what the run does next by changing `ctx`: the request (before `process`), the image plan (in
`process`), the batch's prompts and seeds (before the batch's conditioning is made), `ctx.extra` (infotext entries)
and the tensors or images handed to it in kwargs. The run reads `ctx` back after each call. Who runs the hooks and
how a failing one is isolated is the host's business (the extension system); the core only calls them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from modules.sampling.cfg_hooks import CFGHooks

HookPoint = Literal[
    "setup", "before_process", "process", "before_process_batch", "after_extra_networks_activate",
    "process_batch", "process_before_every_sampling", "extra_noise", "before_hr", "post_sample",
    "postprocess_batch", "postprocess_batch_list", "postprocess_image", "postprocess_maskoverlay",
    "before_image_saved", "image_saved", "postprocess",
]
HOOK_POINTS: tuple[HookPoint, ...] = get_args(HookPoint)


class UnknownHookPoint(ValueError):
    """A hook point name that is not one of HOOK_POINTS: a programming error, raised at once instead of a hook
    that silently never runs."""


def check_point(point: str) -> HookPoint:
    """`point` when it names a hook point; UnknownHookPoint otherwise.

    >>> check_point("postprocess")
    'postprocess'
    >>> check_point("postproces")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.pipeline.hooks.UnknownHookPoint: unknown hook point 'postproces' (known: setup, before_process, ...
    """
    if point not in HOOK_POINTS:
        raise UnknownHookPoint(f"unknown hook point {point!r} (known: {', '.join(HOOK_POINTS)})")
    return point  # `in HOOK_POINTS` narrows the str to the Literal


@dataclass
class RunContext:
    """One run's working data, owned by that run; hooks read it and may change it."""

    kind: str  # "txt2img" or "img2img"
    request: Any  # GenerationRequest / Img2ImgRequest (frozen: hooks replace it)
    opts: Any  # the run's options Snapshot
    job: Any  # modules.pipeline.job.Job
    services: Any = None
    model: Any = None  # LoadedModel, once loaded
    plan: Any = None  # ImagePlan of every image (all_prompts, all_seeds, …), from `process` on
    batch_number: int = 0
    batch: Any = None  # the current batch's ImagePlan
    extra: dict[str, Any] = field(default_factory=dict)  # infotext entries hooks add (extra_generation_params)
    result: Any = None  # GenerationResult, for `postprocess`
    state: dict[str, Any] = field(default_factory=dict)  # anything a host keeps for the run (e.g. A1111's `p`)


class RunHooks(Protocol):
    def call(self, point: HookPoint, ctx: RunContext, **kwargs) -> None: ...

    def cfg_hooks(self, ctx: RunContext) -> CFGHooks: ...


class NoHooks:
    """A run without extensions."""

    def call(self, point: HookPoint, ctx: RunContext, **kwargs) -> None:
        check_point(point)  # a misspelled point fails here too, not only where extensions are loaded

    def cfg_hooks(self, ctx: RunContext) -> CFGHooks:
        return CFGHooks()


NO_HOOKS = NoHooks()


@dataclass
class Holder:
    """A value a hook may replace (A1111's PostSampleArgs, PostprocessImageArgs, … hold theirs the same way)."""

    value: Any


def begin_batch(hooks: RunHooks, ctx: RunContext, n: int, nets) -> Any:
    """A batch's hooks up to its conditioning; returns the batch plan as the hooks left it."""
    ctx.batch_number, ctx.batch = n, ctx.plan.batch(n)
    hooks.call("before_process_batch", ctx)
    nets.activate(ctx.batch)  # this batch's LoRAs patched in, until the run ends
    hooks.call("after_extra_networks_activate", ctx)
    hooks.call("process_batch", ctx)
    return ctx.batch


def sampled(hooks: RunHooks, ctx: RunContext, latents) -> Any:
    """`post_sample`: hooks may replace the batch's latents [B, 4, h, w]."""
    holder = Holder(latents)
    hooks.call("post_sample", ctx, samples=holder)
    return holder.value


def extra_noise_hook(hooks: RunHooks, ctx: RunContext):
    """`extra_noise` as a function (noise, init latent x, noised latent xi) → noise: hooks may replace the noise
    [B, 4, h, w] that img2img's extra noise adds on top (A1111's ExtraNoiseParams), or change xi in place."""
    def call(noise, x, xi):
        holder = Holder(noise)
        hooks.call("extra_noise", ctx, noise=holder, x=x, xi=xi)
        return holder.value
    return call


def decoded(hooks: RunHooks, ctx: RunContext, images) -> list:
    """`postprocess_batch` (in place on [B, 3, H, W] in [0, 1]) then `postprocess_batch_list` (may replace the list
    of [3, H, W] tensors or PIL images; the batch's prompts and seeds in ctx.batch go with them)."""
    hooks.call("postprocess_batch", ctx, images=images)
    holder = Holder(list(images))
    hooks.call("postprocess_batch_list", ctx, images=holder)
    return holder.value
