"""The prompt box's token counter `used/limit` (A1111's `update_token_counter`).

The count is taken on what CLIP will really see: extra-network tags removed, the positive prompt split on `AND`,
every scheduled variant of every part tokenized with emphasis and BREAK; the largest count wins. A full chunk
counts 75 (BREAK and comma backtrack make chunks close early), the last chunk its own tokens. The limit is the
next multiple of 75 (75 for an empty prompt).
"""
from __future__ import annotations

import math

from modules.conditioning.chunks import CHUNK_LENGTH, DEFAULT_COMMA_BACKTRACK
from modules.conditioning.emphasis import DEFAULT_EMPHASIS
from modules.conditioning.prompt_tokens import prompt_to_chunks
from modules.prompts.extra_networks import parse_extra_networks
from modules.prompts.multicond import get_multicond_prompt_list
from modules.prompts.schedule import get_learned_conditioning_prompt_schedules


def token_limit(used: int) -> int:
    """The next multiple of 75 at or above `used` (at least 75).

    >>> token_limit(0), token_limit(75), token_limit(76)
    (75, 75, 150)
    """
    return math.ceil(max(used, 1) / CHUNK_LENGTH) * CHUNK_LENGTH


def count_tokens(
    tokenizer,
    text: str,
    steps: int,
    *,
    is_positive: bool = True,
    emphasis: str = DEFAULT_EMPHASIS,
    comma_backtrack: int = DEFAULT_COMMA_BACKTRACK,
) -> tuple[int, int]:
    """(used, limit) for a prompt box; the negative prompt (`is_positive=False`) has no AND."""
    text, _ = parse_extra_networks(text)
    parts = get_multicond_prompt_list([text])[1] if is_positive else [text]
    schedules = get_learned_conditioning_prompt_schedules(parts, max(int(steps), 1))
    variants = dict.fromkeys(variant for schedule in schedules for _, variant in schedule)
    used = max(prompt_to_chunks(tokenizer, variant, emphasis, comma_backtrack)[1] for variant in variants)
    return used, token_limit(used)
