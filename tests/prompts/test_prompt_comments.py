"""Prompt comments (A1111's `enable_prompt_comments`): the removed text and the newlines left behind are
A1111's, case by case (the expected strings were taken from A1111 1.10.1's behaviour)."""
import pytest

from modules.prompts.comments import prompt_pair, strip_comments


@pytest.mark.parametrize("text, expected", [
    ("a cat # orange?\nsitting", "a cat \nsitting"),
    ("# notes\na dog", "\na dog"),
    ("#a\n#b\nx", "\n\nx"),  # consecutive whole-line comments each leave a newline
    ("x#a\n#b", "x\n"),
    ("a, <lora:x:1> # <lora:y:1>\nb", "a, <lora:x:1> \nb"),  # a tag in a comment is gone before tags are read
    ("#", "\n"),
    ("a#", "a\n"),
    ("\n#x", "\n"),
    ("a\n\n#x\n\nb", "a\n\n\nb"),
    ("(red:1.2)#c", "(red:1.2)\n"),
    ("no comment, (a:1.1)", "no comment, (a:1.1)"),
])
def test_comments_are_stripped_as_a1111_strips_them(text, expected):
    assert strip_comments(text) == expected
    assert strip_comments(expected) == expected  # nothing is left to strip a second time


def test_off_leaves_both_prompts_alone():
    assert prompt_pair(False, "a # b", "c # d") == ("a # b", "c # d")
    assert prompt_pair(True, "a # b", "c # d") == ("a \n", "c \n")
