"""DeepBooru's caption from tag probabilities, shaped by A1111's options (pure; see docs/interrogate.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass

SPECIAL = re.compile(r"([\\()])")


@dataclass(frozen=True)
class TagFormat:
    """The settings that shape a DeepBooru caption (A1111's keys in parentheses)."""

    threshold: float = 0.5  # interrogate_deepbooru_score_threshold
    sort_alpha: bool = True  # deepbooru_sort_alpha; False: by score, highest first
    use_spaces: bool = True  # deepbooru_use_spaces
    escape: bool = True  # deepbooru_escape
    filter_tags: str = ""  # deepbooru_filter_tags, comma separated
    return_ranks: bool = False  # interrogate_return_ranks

    @classmethod
    def from_options(cls, opts) -> TagFormat:
        return cls(float(opts["interrogate_deepbooru_score_threshold"]), bool(opts["deepbooru_sort_alpha"]),
                   bool(opts["deepbooru_use_spaces"]), bool(opts["deepbooru_escape"]),
                   str(opts["deepbooru_filter_tags"]), bool(opts["interrogate_return_ranks"]))


def filtered_names(filter_tags: str) -> set[str]:
    """The tags to leave out, in the model's underscore spelling.

    >>> sorted(filtered_names(" long hair, 1girl ,,"))
    ['', '1girl', 'long_hair']
    """
    return {name.strip().replace(" ", "_") for name in filter_tags.split(",")}


def format_tag(tag: str, probability: float, fmt: TagFormat) -> str:
    r"""One tag as it appears in the caption.

    >>> format_tag("hat_(object)", 0.8125, TagFormat())
    'hat \\(object\\)'
    >>> format_tag("hat_(object)", 0.8125, TagFormat(use_spaces=False, escape=False, return_ranks=True))
    '(hat_(object):0.812)'
    """
    text = tag.replace("_", " ") if fmt.use_spaces else tag
    if fmt.escape:
        text = SPECIAL.sub(r"\\\1", text)
    if fmt.return_ranks:
        text = f"({text}:{probability:.3f})"
    return text


def deepbooru_caption(scores: list[tuple[str, float]], fmt: TagFormat) -> str:
    """Tags at or above the threshold, without `rating:*` and filtered ones, sorted, joined by ", ".

    >>> scores = [("red_hat", 0.6), ("blue_sky", 0.9), ("rating:safe", 0.99), ("cat", 0.2)]
    >>> deepbooru_caption(scores, TagFormat())
    'blue sky, red hat'
    >>> deepbooru_caption(scores, TagFormat(sort_alpha=False, filter_tags="blue sky", threshold=0.1))
    'red hat, cat'
    """
    kept = {tag: p for tag, p in scores if p >= fmt.threshold and not tag.startswith("rating:")}
    order = sorted(kept) if fmt.sort_alpha else sorted(kept, key=lambda t: -kept[t])
    skip = filtered_names(fmt.filter_tags)
    return ", ".join(format_tag(tag, kept[tag], fmt) for tag in order if tag not in skip)
