"""Emphasis modes (A1111 setting `emphasis`): how `(word:1.2)` weights reach the CLIP embeddings.

A1111's `sd_emphasis.py`: "Original" multiplies each token's hidden state by its weight and then rescales the whole
chunk so its mean is what it was before ("restoring original mean is likely not correct, but it seems to work well
to prevent artifacts"); "No norm" skips the rescale; "Ignore" parses the brackets away but applies no weight;
"None" does not parse brackets at all, so they reach the tokenizer as text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modules.errors import InvalidInput

if TYPE_CHECKING:  # the mode table is read by the page's token counters before torch loads (docs/architecture.md §4)
    import torch


@dataclass(frozen=True)
class EmphasisMode:
    name: str
    parse_attention: bool  # run parse_prompt_attention (brackets, weights, BREAK) on the text
    scale: bool  # multiply hidden states by the token weights
    restore_mean: bool  # rescale each chunk to its mean before scaling
    description: str


EMPHASIS_MODES: dict[str, EmphasisMode] = {
    m.name: m
    for m in (
        EmphasisMode("Original", True, True, True, "scale token vectors by their weight, then restore the mean"),
        EmphasisMode("No norm", True, True, False, "scale token vectors by their weight, without restoring the mean"),
        EmphasisMode("Ignore", True, False, False, "parse emphasis but treat every word as weight 1"),
        EmphasisMode("None", False, False, False, "no emphasis: brackets and weights are plain text"),
    )
}
DEFAULT_EMPHASIS = "Original"


def get_emphasis(name: str) -> EmphasisMode:
    """The mode called `name`; unknown names are a user error naming the valid ones.

    >>> get_emphasis("No norm").restore_mean
    False
    """
    mode = EMPHASIS_MODES.get(name)
    if mode is None:
        raise InvalidInput("emphasis", f"unknown emphasis mode {name!r}", ", ".join(EMPHASIS_MODES))
    return mode


def apply_emphasis(z: torch.Tensor, multipliers: torch.Tensor, mode: EmphasisMode) -> torch.Tensor:
    """Weight hidden states `z` [N, 77, C] by `multipliers` [N, 77] as `mode` says; each chunk n on its own."""
    import torch

    if not mode.scale or bool((multipliers == 1).all()):
        return z
    z32 = z.float()  # [N, 77, C]; the means in fp32, bf16 sums drift
    weighted = z32 * multipliers.to(device=z.device, dtype=torch.float32).unsqueeze(-1)  # [N, 77, C]
    if mode.restore_mean:
        original_mean = z32.mean(dim=(1, 2), keepdim=True)  # [N, 1, 1]
        weighted = weighted * (original_mean / weighted.mean(dim=(1, 2), keepdim=True))
    return weighted.to(z.dtype)
