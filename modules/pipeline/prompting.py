"""Prompts of one batch → per-step conditioning for CFG: schedules ([a:b:n], [a|b]), AND parts, padding.

A1111 recomputes the conditioning at every model call from the encoded schedules; so do we (stacking is cheap,
every scheduled text is encoded once, cached by model, text, clip skip, emphasis and comma backtrack).
When cond and uncond differ in length, A1111 (pad_cond_uncond off) runs them through the UNet separately rather
than padding; we mark the missing token rows with NaN so the model wrapper can run each length group unpadded.
Extra-network tags (`<lora:…>`) are cut from the positive prompts here, so every pass encodes what A1111 encodes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import torch

from modules.conditioning.schedules import cond_batch_at_step, encode_multicond, encode_schedules, \
    multicond_batch_at_step
from modules.options import Snapshot
from modules.pipeline.conditioning_service import PromptConditioning
from modules.pipeline.seeds import ImagePlan
from modules.prompts.extra_networks import parse_extra_networks
from modules.sampling.cfg import MultiCond


@dataclass(frozen=True)
class StepConditioning:
    """Callables step → conditioning, as CFGDenoiser takes them (step counts model calls)."""

    cond: Callable[[int], MultiCond]
    uncond: Callable[[int], torch.Tensor]


def encode_options(cache, model, opts: Snapshot) -> dict:
    key = f"{model.checkpoint.path}|{model.checkpoint.sha256 or ''}"
    options = {"cache": cache, "model_hash": key, "emphasis": opts.emphasis,
               "comma_backtrack": opts.comma_padding_backtrack}
    if isinstance(cache, PromptConditioning):
        options["model_hash"] += cache.text_weights_key(model)
        options["embeddings"] = cache.embeddings_for(model)
    return options


def without_network_tags(batch: ImagePlan) -> ImagePlan:
    """The batch with `<kind:…>` tags cut from its positive prompts (A1111 leaves negative prompts as they are).

    >>> plan = ImagePlan(("a <lora:x:1> cat",), ("<lora:y:1>",), (1,), (1,), 1)
    >>> without_network_tags(plan).prompts, without_network_tags(plan).negative_prompts
    (('a  cat',), ('<lora:y:1>',))
    """
    return dataclasses.replace(batch, prompts=tuple(parse_extra_networks(p)[0] for p in batch.prompts))


def pad_tokens(a: torch.Tensor, b: torch.Tensor, filler: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring [N, T1, C] and [M, T2, C] to one length: append `filler` chunks [1, 77, C], or NaN rows (absent)."""
    longest = max(a.shape[1], b.shape[1])

    def pad(x):
        missing = longest - x.shape[1]
        if not missing:
            return x
        if filler is None:
            extra = torch.full((x.shape[0], missing, x.shape[2]), float("nan"), dtype=x.dtype, device=x.device)
        else:
            extra = filler.to(x).repeat(x.shape[0], missing // filler.shape[1], 1)  # [N, missing, C]
        return torch.cat([x, extra], dim=1)

    return pad(a), pad(b)


def step_conditioning(cache, model, batch: ImagePlan, clip_skip: int, steps: int, opts: Snapshot,
                      exact_rows: bool, hires_steps: int | None = None) -> StepConditioning:
    """Encode a batch's prompts (AND parts and schedules) and negative prompts once; assemble per step.

    With `exact_rows` each prompt is encoded on its own so a batch equals single runs bit for bit.
    """
    options = encode_options(cache, model, opts)
    batch = without_network_tags(batch)
    schedule_kw = {"hires_steps": hires_steps, **options}
    if exact_rows:
        parts = [encode_multicond(model, [p], steps, clip_skip, **schedule_kw)[0] for p in batch.prompts]
        negatives = [encode_schedules(model, [n], steps, clip_skip, **schedule_kw)[0]
                     for n in batch.negative_prompts]
    else:
        parts = encode_multicond(model, list(batch.prompts), steps, clip_skip, **schedule_kw)
        negatives = encode_schedules(model, list(batch.negative_prompts), steps, clip_skip, **schedule_kw)
    filler = None
    if opts.pad_cond_uncond:
        filler = encode_schedules(model, [""], steps, clip_skip, **schedule_kw)[0][0].cond[None]  # [1, 77, C]

    last: dict[int, tuple[MultiCond, torch.Tensor]] = {}

    def at(step: int) -> tuple[MultiCond, torch.Tensor]:
        if step not in last:
            rows, tensor = multicond_batch_at_step(parts, step)  # [ΣP, T, C]
            uncond = cond_batch_at_step(negatives, step)  # [B, T', C]
            tensor, uncond = pad_tokens(tensor, uncond, filler)
            last.clear()
            last[step] = MultiCond(tensor, tuple(tuple(r) for r in rows)), uncond
        return last[step]

    return StepConditioning(cond=lambda step: at(step)[0], uncond=lambda step: at(step)[1])
