r"""Emphasis syntax: `(x)`, `[x]`, `(x:1.5)`, escapes and `BREAK` → a list of `[text, weight]`.

Rules (A1111 1.10 `parse_prompt_attention`): `(` multiplies what it encloses by 1.1, `[` divides by 1.1,
`(x:w)` multiplies by w; nesting multiplies; brackets left open run to the end of the text; a stray `)` or `]`, or a
`:w)` with no `(` open, is literal text; `\(` `\)` `\[` `\]` `\\` are literal characters (a lone `\` before
anything else disappears); `BREAK` in upper case, as a word, becomes `["BREAK", -1]`; neighbours of equal weight
merge. Weights are multiplied in the order the brackets close (open ones last: round, then square), which fixes
the exact floating-point values, as A1111 writes them.

One deliberate difference: A1111 also multiplies a `BREAK` that stands inside brackets, so it stops being a BREAK
and is fed to CLIP as the word "break" with a negative weight; here `BREAK` is a BREAK wherever it stands.

>>> parse_prompt_attention('normal text')
[['normal text', 1.0]]
>>> parse_prompt_attention('an (important) word')
[['an ', 1.0], ['important', 1.1], [' word', 1.0]]
>>> parse_prompt_attention('(unbalanced')
[['unbalanced', 1.1]]
>>> parse_prompt_attention('\\(literal\\]')
[['(literal]', 1.0]]
>>> parse_prompt_attention('(unnecessary)(parens)')
[['unnecessaryparens', 1.1]]
>>> parse_prompt_attention('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).')  # doctest: +NORMALIZE_WHITESPACE
[['a ', 1.0], ['house', 1.5730000000000004], [' ', 1.1], ['on', 1.0], [' a ', 1.1], ['hill', 0.55],
 [', sun, ', 1.1], ['sky', 1.4641000000000006], ['.', 1.1]]
>>> parse_prompt_attention('[less] [[much less]]')
[['less', 0.9090909090909091], [' ', 1.0], ['much less', 0.8264462809917354]]
>>> parse_prompt_attention('(a: 1.5 ) stray) and ] and text:2) colon: kept')
[['a', 1.5], [' stray) and ] and text:2) colon: kept', 1.0]]
>>> parse_prompt_attention('(word:1.2.3)')  # not a number: literal text inside a plain `(`
[['word:1.2.3)', 1.1]]
>>> parse_prompt_attention(r'a\\b \x')
[['a\\b x', 1.0]]
>>> parse_prompt_attention('a BREAK b BREAKfast')
[['a', 1.0], ['BREAK', -1], ['b BREAKfast', 1.0]]
>>> parse_prompt_attention('(x BREAK y)')
[['x', 1.1], ['BREAK', -1], ['y', 1.1]]
>>> parse_prompt_attention('')
[['', 1.0]]
"""
from __future__ import annotations

import re

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
BREAK_MARK = ["BREAK", -1]

_TOKEN = re.compile(
    r"""
    (?P<escaped>\\[()\[\]\\]) | (?P<lone_backslash>\\)
    | (?P<open_round>\() | (?P<open_square>\[)
    | (?P<weight>:\s*(?P<number>[+-]?[.\d]+)\s*\))
    | (?P<close_round>\)) | (?P<close_square>])
    | (?P<text>[^\\()\[\]:]+ | :)
    """,
    re.X,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _add_text(res: list[list], text: str) -> None:
    """Append plain text, turning each BREAK word into a BREAK mark."""
    for i, part in enumerate(_BREAK.split(text)):
        if i:
            res.append(["BREAK", -1])
        res.append([part, 1.0])


def _multiply_from(res: list[list], start: int, factor: float) -> None:
    for item in res[start:]:
        if item != BREAK_MARK:
            item[1] *= factor


def _merge_equal_runs(res: list[list]) -> list[list]:
    merged: list[list] = []
    for item in res:
        if merged and item[1] == merged[-1][1] and BREAK_MARK not in (item, merged[-1]):
            merged[-1][0] += item[0]
        else:
            merged.append(item)
    return merged


def parse_prompt_attention(text: str) -> list[list]:
    """Split `text` into `[text, weight]` runs; `["BREAK", -1]` marks a BREAK (rules in the module docstring)."""
    res: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []
    for match in _TOKEN.finditer(text):
        kind, chunk = match.lastgroup, match.group(0)
        weight = _as_float(match.group("number")) if kind == "weight" else None
        if kind == "escaped":
            res.append([chunk[1:], 1.0])
        elif kind == "lone_backslash":
            res.append(["", 1.0])
        elif kind == "open_round":
            round_open.append(len(res))
        elif kind == "open_square":
            square_open.append(len(res))
        elif kind == "weight" and weight is not None and round_open:
            _multiply_from(res, round_open.pop(), weight)
        elif kind == "close_round" and round_open:
            _multiply_from(res, round_open.pop(), ROUND_MULTIPLIER)
        elif kind == "close_square" and square_open:
            _multiply_from(res, square_open.pop(), SQUARE_MULTIPLIER)
        else:
            _add_text(res, chunk)
    for start in round_open:
        _multiply_from(res, start, ROUND_MULTIPLIER)
    for start in square_open:
        _multiply_from(res, start, SQUARE_MULTIPLIER)
    return _merge_equal_runs(res) if res else [["", 1.0]]
