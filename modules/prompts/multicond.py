"""`AND`: composable diffusion (Liu et al. 2022, "Compositional Visual Generation with Composable Diffusion
Models").

A prompt splits on the word `AND` (upper case); each part may end with `:weight`. The sampler then uses
`uncond + Σ weightᵢ · cfg · (condᵢ − uncond)`. Identical parts across all prompts are encoded once, so the result
is A1111's triple: per prompt a list of (index into the flat list, weight), the flat list of distinct texts, and
text → index. A part keeps its leading spaces and loses trailing ones; a `:weight` is read even without `AND`.

>>> get_multicond_prompt_list(["a cat AND a dog:1.5"])
([[(0, 1.0), (1, 1.5)]], ['a cat', ' a dog'], {'a cat': 0, ' a dog': 1})
>>> get_multicond_prompt_list(["red AND blue : -0.5 ", "blue : 2 AND red", "red "])[:2]  # leading space counts
([[(0, 1.0), (1, -0.5)], [(2, 2.0), (3, 1.0)], [(0, 1.0)]], ['red', ' blue', 'blue', ' red'])
>>> get_multicond_prompt_list(["photo:1.2", "(masterpiece:1.2)", "ANDROID and ANDY", "x AND"])[0:2]
... # doctest: +NORMALIZE_WHITESPACE
([[(0, 1.2)], [(1, 1.0)], [(2, 1.0)], [(3, 1.0), (4, 1.0)]],
 ['photo', '(masterpiece:1.2)', 'ANDROID and ANDY', 'x', ''])
>>> get_multicond_prompt_list(["line one\\nline two:.5"])[1]
['line one\\nline two']
"""
from __future__ import annotations

import re
from collections.abc import Sequence

_AND = re.compile(r"\bAND\b")
_WEIGHT = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")


def split_weighted_parts(prompt: str) -> list[tuple[str, float]]:
    """The `AND` parts of one prompt with their weights.

    >>> split_weighted_parts("a AND b:0.3")
    [('a', 1.0), (' b', 0.3)]
    """
    parts = []
    for part in _AND.split(prompt):
        match = _WEIGHT.match(part)
        assert match is not None  # every group of the pattern is optional: it matches any text
        text, weight = match.groups()
        parts.append((text, float(weight) if weight is not None else 1.0))
    return parts


def get_multicond_prompt_list(
    prompts: Sequence[str],
) -> tuple[list[list[tuple[int, float]]], list[str], dict[str, int]]:
    """A1111's `(res_indexes, prompt_flat_list, prompt_indexes)` for a batch of prompts."""
    indexes: list[list[tuple[int, float]]] = []
    flat: list[str] = []
    positions: dict[str, int] = {}
    for prompt in prompts:
        entry = []
        for text, weight in split_weighted_parts(prompt):
            if text not in positions:
                positions[text] = len(flat)
                flat.append(text)
            entry.append((positions[text], weight))
        indexes.append(entry)
    return indexes, flat, positions
