"""A1111's `modules.prompt_parser`: the prompt-language functions extensions call (Easel's own parsers in
modules/prompts) and the conditioning containers with their per-step lookups (`reconstruct_cond_batch`)."""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from modules.prompts.attention import parse_prompt_attention  # noqa: F401 - A1111 name
from modules.prompts.multicond import get_multicond_prompt_list  # noqa: F401 - A1111 name
from modules.prompts.schedule import get_learned_conditioning_prompt_schedules  # noqa: F401 - A1111 name

class SdConditioning(list):
    """A list of prompts with the generation's facts A1111 hands its text encoders (negative or not, size)."""

    def __init__(self, prompts, is_negative_prompt: bool = False, width=None, height=None, copy_from=None,
                 distilled_cfg_scale=None):
        super().__init__()
        self.extend(prompts)
        copy_from = prompts if copy_from is None else copy_from
        self.is_negative_prompt = is_negative_prompt or getattr(copy_from, "is_negative_prompt", False)
        self.width = width or getattr(copy_from, "width", None)
        self.height = height or getattr(copy_from, "height", None)
        self.distilled_cfg_scale = distilled_cfg_scale


ScheduledPromptConditioning = namedtuple("ScheduledPromptConditioning", ["end_at_step", "cond"])


class ComposableScheduledPromptConditioning:
    """One AND-part of a prompt: its schedule and its weight."""

    def __init__(self, schedules, weight: float = 1.0):
        self.schedules: list[ScheduledPromptConditioning] = schedules
        self.weight = weight


class MulticondLearnedConditioning:
    """A batch of prompts, each a list of AND-parts."""

    def __init__(self, shape, batch):
        self.shape = shape  # the shape of the batch this came from: (len(prompts),)
        self.batch: list[list[ComposableScheduledPromptConditioning]] = batch


def _at_step(schedule: list[ScheduledPromptConditioning], step: int):
    """The cond of the first entry whose end step is at or after `step`."""
    for entry in schedule:
        if step <= entry.end_at_step:
            return entry.cond
    return schedule[-1].cond


def _stack(conds: list) -> Any:
    import torch

    if isinstance(conds[0], dict):
        return {k: torch.stack([c[k] for c in conds]) for k in conds[0]}
    return torch.stack(conds)


def reconstruct_cond_batch(c: list[list[ScheduledPromptConditioning]], current_step: int):
    """Each prompt's cond at `current_step`, stacked: [B, T, C] (or a dict of such for SDXL)."""
    return _stack([_at_step(schedule, current_step) for schedule in c])


def reconstruct_multicond_batch(c: MulticondLearnedConditioning, current_step: int):
    """(conds_list [[(row, weight), …] per prompt], stacked conds of every part at `current_step`)."""
    rows, conds_list = [], []
    for parts in c.batch:
        conds_list.append([(len(rows) + i, part.weight) for i, part in enumerate(parts)])
        rows.extend(_at_step(part.schedules, current_step) for part in parts)
    return conds_list, _stack(rows)


def get_learned_conditioning(model, prompts, steps: int, hires_steps: int | None = None,
                             use_old_scheduling: bool = False) -> list[list[ScheduledPromptConditioning]]:
    """Each prompt's schedule, its texts encoded by the loaded model (compat/prompt_encoding.py)."""
    from modules.extensions.compat.prompt_encoding import get_learned_conditioning as encode

    return encode(model, prompts, steps, hires_steps, use_old_scheduling)


def __getattr__(name: str):
    if name == "get_multicond_learned_conditioning":
        raise AttributeError(f"Easel has no prompt_parser.{name}: AND prompts are encoded inside a generation "
                             "(modules/pipeline/prompting.py); hook on_cfg_denoiser to see or change the conds")
    raise AttributeError(f"module 'modules.prompt_parser' has no attribute {name!r}")
