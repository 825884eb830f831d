"""parse_prompt_attention: A1111 1.10's documented examples and A1111's rules."""
from __future__ import annotations

import pytest

from modules.prompts import parse_prompt_attention as parse


@pytest.mark.parametrize("text, expected", [
    ("normal text", [["normal text", 1.0]]),
    ("an (important) word", [["an ", 1.0], ["important", 1.1], [" word", 1.0]]),
    ("(unbalanced", [["unbalanced", 1.1]]),
    (r"\(literal\]", [["(literal]", 1.0]]),
    ("(unnecessary)(parens)", [["unnecessaryparens", 1.1]]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", [
        ["a ", 1.0], ["house", 1.5730000000000004], [" ", 1.1], ["on", 1.0], [" a ", 1.1], ["hill", 0.55],
        [", sun, ", 1.1], ["sky", 1.4641000000000006], [".", 1.1]]),
])
def test_a1111_documented_examples(text, expected):
    assert parse(text) == expected


def test_weights_multiply_when_nested():
    assert parse("((a))") == [["a", 1.1 * 1.1]]
    assert parse("((a:1.5))") == [["a", 1.5 * 1.1]]
    assert parse("[(a:2)]") == [["a", 2 / 1.1]]
    assert parse("(a:0)") == [["a", 0.0]]
    assert parse("(a:-1.5)") == [["a", -1.5]]
    assert parse("(a:+2)") == [["a", 2.0]]
    assert parse("(a :  1.5  )") == [["a ", 1.5]]


def test_unclosed_brackets_run_to_the_end():
    assert parse("a (b [c") == [["a ", 1.0], ["b ", 1.1], ["c", 1.1 / 1.1]]
    assert parse("[a") == [["a", 1 / 1.1]]


def test_stray_closers_and_colons_are_text():
    assert parse("a) b] c") == [["a) b] c", 1.0]]
    assert parse("text:1.2)") == [["text:1.2)", 1.0]]
    assert parse("[a:1.2)") == [["a:1.2)", 1 / 1.1]]  # `:N)` only closes a round bracket
    assert parse("time: 12:30") == [["time: 12:30", 1.0]]


def test_escapes():
    assert parse(r"\(a\) \[b\] \\") == [["(a) [b] \\", 1.0]]
    assert parse(r"(\(nested\))") == [["(nested)", 1.1]]
    assert parse("a\\b") == [["ab", 1.0]]  # a lone backslash before a letter vanishes, as in A1111


def test_break():
    assert parse("a BREAK b") == [["a", 1.0], ["BREAK", -1], ["b", 1.0]]
    assert parse("BREAK") == [["", 1.0], ["BREAK", -1], ["", 1.0]]
    assert parse("a BREAK BREAK b") == [["a", 1.0], ["BREAK", -1], ["", 1.0], ["BREAK", -1], ["b", 1.0]]
    assert parse("a break b, BREAKING, xBREAK") == [["a break b, BREAKING, xBREAK", 1.0]]
    assert parse("(a) BREAK (b)") == [["a", 1.1], ["", 1.0], ["BREAK", -1], ["", 1.0], ["b", 1.1]]
    assert parse("(a BREAK b:1.3)") == [["a", 1.3], ["BREAK", -1], ["b", 1.3]]


def test_empty_and_equal_runs():
    assert parse("") == [["", 1.0]]
    assert parse("()") == [["", 1.0]]
    assert parse("(a)(b) c") == [["ab", 1.1], [" c", 1.0]]
    assert parse("(a:1.1)(b)") == [["ab", 1.1]]


def test_bad_number_is_text_not_a_crash():
    assert parse("(a:1.2.3)") == [["a:1.2.3)", 1.1]]
    assert parse("(a:.)") == [["a:.)", 1.1]]
