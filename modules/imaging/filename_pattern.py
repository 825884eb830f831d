"""A1111's file name patterns (`samples_filename_pattern`, `[seed]-[prompt_spaces]`, …) as a pure function of the
values they name. Tags are case-insensitive; a tag whose value is unknown stays as written (A1111 does the same
for tags it cannot fill), so a typo shows up in the file name instead of vanishing.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modules.imaging.saving import DEFAULT_RULES, FilenameRules

RE_TAG = re.compile(r"\[(\w+)(?:<([^>]*)>)?\]")
RE_NONLETTERS = re.compile(r"[\s!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]+")
DEFAULT_DATETIME_FORMAT = "%Y%m%d%H%M%S"
MAX_PROMPT_WORDS = 8  # A1111's directories_max_prompt_words default
PROMPT_TAGS = ("prompt", "prompt_spaces", "prompt_words", "prompt_no_styles")


def prompt_words(prompt: str, limit: int = MAX_PROMPT_WORDS) -> str:
    """The first words of a prompt, punctuation dropped (A1111's `[prompt_words]`).

    >>> prompt_words("a (red:1.2) cube, on a table, studio light", 4)
    'a red 1 2'
    >>> prompt_words(",,")
    'empty'
    """
    words = [w for w in RE_NONLETTERS.split(prompt or "") if w]
    return " ".join(words[:limit]) if words else "empty"


def _value(tag: str, arg: str | None, values: Mapping[str, Any], now: datetime, rules: FilenameRules) -> str | None:
    sanitize_filename_part = rules.sanitize
    if tag == "date":
        return now.date().isoformat()
    if tag == "datetime":
        try:
            return sanitize_filename_part(now.strftime(arg or DEFAULT_DATETIME_FORMAT))
        except (ValueError, TypeError):
            return now.strftime(DEFAULT_DATETIME_FORMAT)
    if tag in PROMPT_TAGS and values.get("prompt") is not None:
        prompt = str(values["prompt"])
        if tag == "prompt":
            return sanitize_filename_part(prompt, replace_spaces=True)
        if tag == "prompt_words":
            return sanitize_filename_part(prompt_words(prompt, int(values.get("max_prompt_words", MAX_PROMPT_WORDS))))
        return sanitize_filename_part(prompt)
    value = values.get(tag)
    return None if value is None else sanitize_filename_part(str(value))


def apply_pattern(pattern: str, values: Mapping[str, Any], now: datetime | None = None,
                  rules: FilenameRules = DEFAULT_RULES) -> str:
    """`pattern` with each `[tag]` replaced by its value: seed, steps, cfg, width, height, sampler, scheduler,
    model_name, model_hash, styles, prompt, prompt_spaces, prompt_words, prompt_no_styles, date,
    datetime<format>, job_timestamp, … (any key of `values`); each value is made safe by `rules`.

    >>> when = datetime(2026, 1, 2, 3, 4, 5)
    >>> apply_pattern("[seed]-[prompt_spaces]", {"seed": 42, "prompt": "a red/blue cube"}, when)
    '42-a red_blue cube'
    >>> apply_pattern("[DATE]_[datetime<%H%M>]_[steps]_[nosuch]", {"steps": 20}, when)
    '2026-01-02_0304_20_[nosuch]'
    >>> apply_pattern("[prompt]", {"prompt": "two words"}, when)
    'two_words'
    """
    now = now or datetime.now()

    def replace(match: re.Match) -> str:
        value = _value(match.group(1).lower(), match.group(2), values, now, rules)
        return match.group(0) if value is None else value

    return RE_TAG.sub(replace, pattern)
