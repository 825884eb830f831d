"""Checks for a selectable script's `script_args` as API clients send them (JSON: numbers, strings, lists): each
returns the value in the type `run()` needs or raises InvalidInput naming the argument (`script_args[1] (Tile
overlap)`) and what is valid, so a bad value answers 422 instead of failing deep inside the script.
The built-in scripts use these (their layouts: docs/scripts.md)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modules.errors import InvalidInput


def field(index: int, label: str) -> str:
    """The request field of one script argument.

    >>> field(3, "Outpainting direction")
    'script_args[3] (Outpainting direction)'
    """
    return f"script_args[{index}] ({label})"


def number(value: Any, name: str, low: float | None = None, high: float | None = None, whole: bool = False):
    """A JSON number (or its text) within [low, high]; `whole` asks for an int (2.0 is taken as 2).

    >>> number("0.25", "f"), number(64.0, "f", 0, 256, whole=True)
    (0.25, 64)
    >>> number(True, "script_args[0] (Loops)", 1, 32, whole=True)
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: script_args[0] (Loops): True is not a number (valid: a whole number from 1 to 32)
    >>> number(2.5, "f", 1, 32, whole=True)
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: f: 2.5 is not a whole number (valid: a whole number from 1 to 32)
    """
    kind = "a whole number" if whole else "a number"
    valid = kind + (f" from {low:g} to {high:g}" if low is not None and high is not None else
                    f" of at least {low:g}" if low is not None else "")
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        result = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(name, f"{value!r} is not a number", valid) from None
    if whole:
        if not result.is_integer():
            raise InvalidInput(name, f"{value!r} is not a whole number", valid)
        result = int(result)
    if (low is not None and result < low) or (high is not None and result > high):
        raise InvalidInput(name, f"{value!r} is out of range", valid)
    return result


def choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of `choices` (case as given there; matched ignoring case).

    >>> choice("Lazy", "c", ["Aggressive", "Linear", "Lazy"]), choice("linear", "c", ["Linear"])
    ('Lazy', 'Linear')
    >>> choice("Fast", "script_args[2] (Denoising strength curve)", ["Linear", "Lazy"])
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: script_args[2] (Denoising strength curve): 'Fast' is not a choice (valid: Linear, Lazy)
    """
    for c in choices:
        if isinstance(value, str) and value.lower() == c.lower():
            return c
    raise InvalidInput(name, f"{value!r} is not a choice", ", ".join(choices))


def index_or_choice(value: Any, name: str, choices: Sequence[str]) -> int:
    """A radio button's index (A1111's `type="index"`), given as the index or as the label.

    >>> index_or_choice(1, "m", ["fill", "original"]), index_or_choice("original", "m", ["fill", "original"])
    (1, 1)
    >>> index_or_choice(4, "m", ["fill", "original"])
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: m: 4 is out of range (valid: 0: fill, 1: original)
    """
    valid = ", ".join(f"{i}: {c}" for i, c in enumerate(choices))
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            return list(choices).index(choice(value, name, choices))
        except InvalidInput:
            raise InvalidInput(name, f"{value!r} is not a choice", valid) from None
    try:
        index = number(value, name, whole=True)
    except InvalidInput:
        raise InvalidInput(name, f"{value!r} is not an index", valid) from None
    if not 0 <= index < len(choices):
        raise InvalidInput(name, f"{value!r} is out of range", valid)
    return index


def subset(value: Any, name: str, choices: Sequence[str]) -> list[str]:
    """A checkbox group's value: a list of some of `choices` (a lone string counts as a list of one).

    >>> subset(["up", "left"], "d", ["left", "right", "up", "down"]), subset("down", "d", ["down"])
    (['up', 'left'], ['down'])
    >>> subset(["north"], "script_args[3] (direction)", ["left", "right"])
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: script_args[3] (direction): 'north' is not a choice (valid: a list of left, right)
    """
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise InvalidInput(name, f"{value!r} is not a list", "a list of " + ", ".join(choices))
    out = []
    for item in items:
        try:
            out.append(choice(item, name, choices))
        except InvalidInput:
            raise InvalidInput(name, f"{item!r} is not a choice", "a list of " + ", ".join(choices)) from None
    return out


def text(value: Any, name: str) -> str:
    """A text box's value (None is empty).

    >>> text(None, "t"), text("a\\nb", "t")
    ('', 'a\\nb')
    >>> text(3, "script_args[3] (List of prompt inputs)")
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: script_args[3] (List of prompt inputs): 3 is not text (valid: a string)
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, f"{value!r} is not text", "a string")
    return value
