"""Prompt editing and alternation schedules: A1111's documented examples, hires fix, unparseable prompts."""
from __future__ import annotations

import pytest

from modules.prompts import get_learned_conditioning_prompt_schedules as schedules


def one(prompt, steps=10, hires=None, old=False):
    return schedules([prompt], steps, hires, old)[0]


def test_the_documented_landscape():
    prompt = ("fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75]"
              "[ in foreground::0.6][ in background:0.25] [shoddy:masterful:0.5]")
    assert one(prompt, 100) == [
        [25, "fantasy landscape with a mountain and an oak in foreground shoddy"],
        [50, "fantasy landscape with a lake and an oak in foreground in background shoddy"],
        [60, "fantasy landscape with a lake and an oak in foreground in background masterful"],
        [75, "fantasy landscape with a lake and an oak in background masterful"],
        [100, "fantasy landscape with a lake and a christmas tree in background masterful"],
    ]


@pytest.mark.parametrize("prompt, expected", [
    ("a [b:3]", [[3, "a "], [10, "a b"]]),
    ("a [b : c : 1] d", [[1, "a b  d"], [10, "a  c  d"]]),
    ("a [b::4] c", [[4, "a b c"], [10, "a  c"]]),
    ("a[b:[c:d:2]:1]e", [[1, "abe"], [2, "ace"], [10, "ade"]]),
    ("[[a:b:2]:c:5]", [[2, "a"], [5, "b"], [10, "c"]]),
    ("[(a:2):3]", [[3, ""], [10, "(a:2)"]]),
    ("a [b:.5] c", [[5, "a  c"], [10, "a b c"]]),
    ("a [b:1.0] c", [[10, "a  c"]]),  # a decimal 1.0 is the whole run: the switch never happens
    ("a [b:1] c", [[1, "a  c"], [10, "a b c"]]),  # the integer 1 is step 1
])
def test_editing(prompt, expected):
    assert one(prompt) == expected


def test_alternation():
    assert [t for _, t in one("[cow|horse] in a field", 4)] == ["cow in a field", "horse in a field"] * 2
    assert [t for _, t in one("[a|b|c]", 7)] == ["a", "b", "c", "a", "b", "c", "a"]
    assert [t for _, t in one("[[a|b]|c]", 4)] == ["a", "c", "a", "c"]  # inner alternation follows the step too
    assert [t for _, t in one("[|x]", 2)] == ["", "x"]
    assert one("[a|b]", 3) == [[1, "a"], [2, "b"], [3, "a"]]


def test_unparseable_prompts_are_kept_whole():
    for prompt in ["a [unbalanced", "a [b:c:d:3]", "a [b|c:3]", "x ]:[ y", "a [b:x]"]:
        assert one(prompt) == [[10, prompt]]


def test_plain_brackets_and_emphasis_pass_through():
    assert one(r"(a:1.2) [b] \[c\] ((d)) e:f") == [[10, r"(a:1.2) [b] \[c\] ((d)) e:f"]]


def test_hires_schedule_counts_on_from_the_first_pass():
    assert one("a [b:.5] c", 10, 10) == [[10, "a b c"]]
    assert one("a [b:1.5] c", 10, 10) == [[5, "a  c"], [10, "a b c"]]
    assert one("a [b:15] c", 10, 20) == [[5, "a  c"], [20, "a b c"]]
    assert one("a [b:5] c", 10, 20) == [[20, "a b c"]]
    # old scheduling ignores the hires pass: the schedule is the first pass's, as in A1111
    assert one("a [b:15] c", 10, 20, old=True) == one("a [b:15] c", 10) == [[10, "a  c"]]
    assert one("a [b:0.5] c", 10, 20, old=True) == [[5, "a  c"], [10, "a b c"]]


def test_old_scheduling_reads_numbers_below_one_as_fractions():
    assert one("a [b:0.5]", 10, old=True) == [[5, "a "], [10, "a b"]]
    assert one("a [b:2.0]", 10, old=True) == [[2, "a "], [10, "a b"]]  # new scheduling: 2.0 → 20 → capped
    assert one("a [b:2.0]", 10) == [[10, "a "]]


def test_many_prompts_keep_order_and_share_work():
    out = schedules(["a [b:2]", "c", "a [b:2]"], 4)
    assert out == [[[2, "a "], [4, "a b"]], [[4, "c"]], [[2, "a "], [4, "a b"]]]
