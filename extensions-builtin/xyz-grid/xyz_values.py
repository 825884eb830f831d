"""X/Y/Z plot's values, as pure functions: CSV lists, number ranges (`1-5`, `1-10 (+2)`, `1-10 [5]`), the loop
order of the axes, Prompt S/R and Prompt order. No Easel or A1111 imports: tested by their doctests."""
from __future__ import annotations

import csv
import re
from io import StringIO
from itertools import chain

import numpy as np

NUM = r"[+-]?\s*\d+"
FLOAT = r"[+-]?\s*\d+(?:\.\d*)?"
RE_RANGE = re.compile(rf"\s*({NUM})\s*-\s*({NUM})(?:\s*\(([+-]\d+)\s*\))?\s*")
RE_RANGE_COUNT = re.compile(rf"\s*({NUM})\s*-\s*({NUM})(?:\s*\[(\d+)\s*])?\s*")
RE_RANGE_FLOAT = re.compile(rf"\s*({FLOAT})\s*-\s*({FLOAT})(?:\s*\(([+-]\d+(?:\.\d*)?)\s*\))?\s*")
RE_RANGE_COUNT_FLOAT = re.compile(rf"\s*({FLOAT})\s*-\s*({FLOAT})(?:\s*\[(\d+(?:\.\d*)?)\s*])?\s*")


def csv_values(text: str) -> list[str]:
    """Comma-separated values; double quotes keep commas inside a value; each value stripped.

    >>> csv_values('dog, "cat, black" , bird')
    ['dog', 'cat, black', 'bird']
    >>> csv_values(""), csv_values("a\\nb")
    ([], ['a', 'b'])
    """
    return [v.strip() for v in chain.from_iterable(csv.reader(StringIO(text or ""), skipinitialspace=True))]


def list_to_csv_string(values) -> str:
    """Values back into one CSV line (what the dropdowns' values become in the textbox).

    >>> list_to_csv_string(["a", "b, c"])
    'a,"b, c"'
    """
    with StringIO() as out:
        csv.writer(out).writerow(values)
        return out.getvalue().strip()


def _number(text: str, kind: type):
    return kind(text.replace(" ", ""))


def _stepped(start, end, step, kind: type) -> list:
    """Inclusive range from start towards end by step (a step of the wrong sign gives just `start`)."""
    if step == 0:
        raise ValueError(f"a range step of 0 never reaches {end}")
    count = int(np.floor((end - start) / step + 1e-9)) + 1
    return [kind(round(start + i * step, 10)) for i in range(max(count, 1))]


def expand_ranges(values: list[str], kind: type) -> list:
    """Number values with ranges expanded: `a-b` (step 1), `a-b (+s)`, `a-b [n]` (n values, evenly spaced).

    >>> expand_ranges(["1-5", "8"], int)
    [1, 2, 3, 4, 5, 8]
    >>> expand_ranges(["1-10 (+3)", "10-1 (-4)", "1-10 [4]"], int)
    [1, 4, 7, 10, 10, 6, 2, 1, 4, 7, 10]
    >>> expand_ranges(["0.5-1.5 (+0.25)", "1-2 [3]", "7.5", "-1"], float)
    [0.5, 0.75, 1.0, 1.25, 1.5, 1.0, 1.5, 2.0, 7.5, -1.0]
    >>> expand_ranges(["five"], int)
    Traceback (most recent call last):
    ValueError: 'five' is not a whole number or a range (1-5, 1-10 (+2), 1-10 [5])
    """
    whole = kind is int
    step_re, count_re = (RE_RANGE, RE_RANGE_COUNT) if whole else (RE_RANGE_FLOAT, RE_RANGE_COUNT_FLOAT)
    out = []
    for value in values:
        stepped, counted = step_re.fullmatch(value), count_re.fullmatch(value)
        try:
            if stepped is not None:
                start, end = _number(stepped.group(1), kind), _number(stepped.group(2), kind)
                step = _number(stepped.group(3), kind) if stepped.group(3) else 1
                out += _stepped(start, end, step, kind)
            elif counted is not None:
                start, end = _number(counted.group(1), kind), _number(counted.group(2), kind)
                count = int(float(counted.group(3))) if counted.group(3) else 1
                out += [kind(int(v) if whole else v) for v in np.linspace(start, end, count).tolist()]
            else:
                out.append(_number(value, kind))
        except ValueError:
            noun = "whole number" if whole else "number"
            raise ValueError(f"{value!r} is not a {noun} or a range (1-5, 1-10 (+2), 1-10 [5])") from None
    return out


def loop_order(costs: dict[str, float]) -> list[str]:
    """Axes from outermost to innermost loop: the costliest to change (checkpoint, VAE) changes least often;
    on equal cost Z is outermost, then Y (A1111's order).

    >>> loop_order({"x": 0, "y": 0, "z": 0}), loop_order({"x": 1.0, "y": 0, "z": 0.7})
    (['z', 'y', 'x'], ['x', 'z', 'y'])
    """
    priority = {"z": 2, "y": 1, "x": 0}
    return sorted(costs, key=lambda axis: (-costs[axis], -priority[axis]))


def replace_in_prompts(prompt: str, negative: str, search: str, replacement: str) -> tuple[str, str]:
    """Prompt S/R: the first value is searched for in both prompts and replaced by the cell's value.

    >>> replace_in_prompts("a dog, a dog", "cat", "dog", "fox")
    ('a fox, a fox', 'cat')
    >>> replace_in_prompts("a dog", "", "cow", "fox")
    Traceback (most recent call last):
    RuntimeError: Prompt S/R did not find 'cow' in prompt or negative prompt.
    """
    if search not in prompt and search not in negative:
        raise RuntimeError(f"Prompt S/R did not find {search!r} in prompt or negative prompt.")
    return prompt.replace(search, replacement), negative.replace(search, replacement)


def reorder_tokens(prompt: str, tokens) -> str:
    """Prompt order: the given tokens put back into the prompt's token slots in this order.

    >>> reorder_tokens("a cat, red, big", ["big", "red"])
    'a cat, big, red'
    >>> reorder_tokens("a cat", ["dog", "cat"])
    Traceback (most recent call last):
    RuntimeError: Prompt order did not find 'dog' in the prompt.
    """
    for token in tokens:
        if token not in prompt:
            raise RuntimeError(f"Prompt order did not find {token!r} in the prompt.")
    slots = sorted((prompt.find(t), t) for t in tokens)
    parts, rest = [], prompt
    for _, token in slots:
        at = rest.find(token)
        parts.append(rest[:at])
        rest = rest[at + len(token):]
    return "".join(part + token for part, token in zip(parts, tokens)) + rest
