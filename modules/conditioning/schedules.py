"""Prompt schedules → conditionings per step, and the per-step batch the sampler's CFG needs.

A prompt is split on AND; each part is scheduled over the steps; every distinct scheduled text is encoded once.
At sampling step k each part uses the first schedule entry whose end step is ≥ k (A1111's
`reconstruct_multicond_batch`); the parts of a batch are stacked, shorter ones padded by repeating their last
token vector, as A1111's `stack_conds` does.

A model with `encode_prompt` (a loaded model: its family engine encodes) gives `Conditioning` values, which carry
what a family adds to cross-attention (pooled output, time ids); a bare text encoder (`text_hidden_states`) goes
through the classic CLIP path and gives tensors. Both travel through schedules and stacking alike.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from modules.conditioning.text import TextEncoder, encode_prompts
from modules.conditioning.types import Conditioning
from modules.prompts.multicond import get_multicond_prompt_list
from modules.prompts.schedule import get_learned_conditioning_prompt_schedules


class ScheduledPromptConditioning(NamedTuple):
    end_at_step: int
    cond: torch.Tensor | Conditioning  # [77*k, C], or a one-row Conditioning [1, 77*k, C]


@dataclass(frozen=True)
class ComposablePart:
    """One AND part of a prompt: its schedule and its weight in CFG."""

    schedule: list[ScheduledPromptConditioning]
    weight: float


def encode_schedules(
    model: TextEncoder,
    prompts: Sequence[str],
    steps: int,
    clip_skip: int,
    *,
    hires_steps: int | None = None,
    use_old_scheduling: bool = False,
    **encode_options,
) -> list[list[ScheduledPromptConditioning]]:
    """Each prompt's schedule with its texts encoded (A1111's `get_learned_conditioning`, without AND).

    `encode_options` go to `encode_prompts` (tokenizer, emphasis, comma_backtrack, cache, model_hash).
    """
    schedules = get_learned_conditioning_prompt_schedules(prompts, steps, hires_steps, use_old_scheduling)
    texts = list(dict.fromkeys(text for schedule in schedules for _, text in schedule))
    encode = getattr(model, "encode_prompt", None)
    if encode is not None:  # the family engine's encoding: one-row Conditionings
        conds = dict(zip(texts, encode(texts, clip_skip, **encode_options)))
    else:
        conds = {t: c[0] for t, c in zip(texts, encode_prompts(model, texts, clip_skip, **encode_options))}
    return [
        [ScheduledPromptConditioning(end, conds[text]) for end, text in schedule]  # [77*k, C] or [1, 77*k, C]
        for schedule in schedules
    ]


def encode_multicond(
    model: TextEncoder, prompts: Sequence[str], steps: int, clip_skip: int, **schedule_options
) -> list[list[ComposablePart]]:
    """Per prompt, its AND parts with their encoded schedules (A1111's `get_multicond_learned_conditioning`)."""
    indexes, flat, _ = get_multicond_prompt_list(prompts)
    schedules = encode_schedules(model, flat, steps, clip_skip, **schedule_options)
    return [[ComposablePart(schedules[i], weight) for i, weight in entry] for entry in indexes]


def cond_at_step(schedule: Sequence[ScheduledPromptConditioning], step: int) -> torch.Tensor | Conditioning:
    """The conditioning in force at `step`: the first entry ending at or after it (past the end: the first)."""
    for entry in schedule:
        if step <= entry.end_at_step:
            return entry.cond
    return schedule[0].cond


def stack_conds(conds: Sequence[torch.Tensor | Conditioning]) -> torch.Tensor | Conditioning:
    """Stack [T_i, C] conditionings into [N, max T, C], repeating each one's last vector to fill it (one-row
    Conditionings stack into one Conditioning the same way)."""
    rows = [c for c in conds if isinstance(c, Conditioning)]
    tensors = [c for c in conds if not isinstance(c, Conditioning)]  # [T_i, C] each
    if rows and tensors:
        raise ValueError(f"stack_conds got {len(rows)} Conditioning values and {len(tensors)} plain tensors; "
                         "a batch holds one kind")
    if rows:
        return Conditioning.stack(rows)
    longest = max(c.shape[0] for c in tensors)
    padded = [torch.cat([c, c[-1:].repeat(longest - c.shape[0], 1)]) if c.shape[0] < longest else c for c in tensors]
    return torch.stack(padded)  # [N, T, C]


def cond_batch_at_step(schedules: Sequence[Sequence[ScheduledPromptConditioning]],
                       step: int) -> torch.Tensor | Conditioning:
    """A batch of plain schedules (e.g. negative prompts) at `step` → [B, T, C]."""
    return stack_conds([cond_at_step(schedule, step) for schedule in schedules])


def multicond_batch_at_step(
    batch: Sequence[Sequence[ComposablePart]], step: int
) -> tuple[list[list[tuple[int, float]]], torch.Tensor | Conditioning]:
    """(per image its (row, weight) pairs, all parts stacked [ΣP, T, C]) — what CFG over AND parts needs."""
    rows: list[torch.Tensor | Conditioning] = []
    conds_list: list[list[tuple[int, float]]] = []
    for parts in batch:
        conds_list.append([(len(rows) + i, part.weight) for i, part in enumerate(parts)])
        rows.extend(cond_at_step(part.schedule, step) for part in parts)
    return conds_list, stack_conds(rows)
