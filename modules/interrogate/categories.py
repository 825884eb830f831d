"""The phrase lists CLIP interrogation ranks: one `.txt` per category in `models/interrogate/`, one phrase a line.

A name ending in `.topN` (e.g. `flavors.top3.txt`) adds the N best phrases instead of one, as in A1111.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TOPN = re.compile(r"\.top(\d+)$")


@dataclass(frozen=True)
class Category:
    name: str
    topn: int
    items: tuple[str, ...]


def topn_of(stem: str) -> int:
    """How many phrases a category contributes.

    >>> topn_of("artists"), topn_of("flavors.top3")
    (1, 3)
    """
    match = TOPN.search(stem)
    return 1 if match is None else int(match.group(1))


def parse_items(text: str, dict_limit: int) -> tuple[str, ...]:
    """Non-empty stripped lines, the first `dict_limit` of them (0: all).

    >>> parse_items(" oil painting \\n\\nwatercolor\\nsketch\\n", 2)
    ('oil painting', 'watercolor')
    """
    items = tuple(line.strip() for line in text.splitlines() if line.strip())
    return items[:dict_limit] if dict_limit > 0 else items


def load_categories(folder: Path, skip: tuple[str, ...] = (), dict_limit: int = 0) -> list[Category]:
    """Every category file of `folder` (sorted by name) not named in `skip`; none when the folder is absent."""
    if not folder.is_dir():
        return []
    categories = []
    for path in sorted(folder.glob("*.txt")):
        if path.stem in skip:
            continue
        items = parse_items(path.read_text(encoding="utf-8", errors="replace"), dict_limit)
        if items:
            categories.append(Category(path.stem, topn_of(path.stem), items))
    return categories


def category_names(folder: Path) -> list[str]:
    """The names `interrogate_clip_skip_categories` may hold."""
    return sorted(p.stem for p in folder.glob("*.txt")) if folder.is_dir() else []


def append_matches(caption: str, matches: list[tuple[str, float]], return_ranks: bool) -> str:
    """A1111's CLIP caption: the BLIP sentence, then each match after a comma (with its score when ranked).

    >>> append_matches("a cat", [("oil painting", 0.5), ("blue", 0.25)], False)
    'a cat, oil painting, blue'
    >>> append_matches("a cat", [("oil painting", 0.5)], True)
    'a cat, (oil painting:0.500)'
    """
    parts = [caption]
    parts += [f"({text}:{score:.3f})" if return_ranks else text for text, score in matches]
    return ", ".join(parts)
