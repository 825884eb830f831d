"""Styles: merging, extraction, and the styles.csv database."""
from __future__ import annotations

import pytest

from modules.errors import InvalidInput, NotFound
from modules.prompts.styles import (
    PromptStyle,
    StyleDatabase,
    apply_styles_to_prompt,
    extract_original_prompts,
    load_styles,
    merge_prompts,
)


def test_merge_wraps_or_appends():
    assert merge_prompts("{prompt}, highly detailed", "a cat") == "a cat, highly detailed"
    assert merge_prompts("art by x", "a cat") == "a cat, art by x"
    assert merge_prompts("", "a cat") == "a cat"
    assert merge_prompts("{prompt} {prompt}", "x") == "x x"
    assert apply_styles_to_prompt("", ["a", "b"]) == "a, b"


def test_extract_needs_both_prompts():
    style = PromptStyle("s", "masterpiece", "blurry")
    assert extract_original_prompts(style, "a cat, masterpiece", "ugly, blurry") == (True, "a cat", "ugly")
    assert extract_original_prompts(style, "a cat, masterpiece", "ugly") == (False, "a cat, masterpiece", "ugly")
    assert extract_original_prompts(PromptStyle("empty"), "a", "b") == (False, "a", "b")


def test_database_round_trip_and_extract(tmp_path):
    path = tmp_path / "styles.csv"
    db = StyleDatabase(path)
    assert db.names() == []
    db.set(PromptStyle("Detailed", "{prompt}, highly detailed, 8k", "lowres, blurry"))
    db.set(PromptStyle("Oil, \"quoted\"", "oil painting", ""))
    db.save()
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + b"name,prompt,negative_prompt")
    again = StyleDatabase(path)
    assert again.styles == db.styles
    prompt = again.apply_styles_to_prompt("a cat", ["Detailed", "Oil, \"quoted\""])
    negative = again.apply_negative_styles_to_prompt("text", ["Detailed", "Oil, \"quoted\""])
    assert prompt == "a cat, highly detailed, 8k, oil painting"
    assert negative == "text, lowres, blurry"
    assert again.extract_styles_from_prompt(prompt, negative) == (["Detailed", "Oil, \"quoted\""], "a cat", "text")


def test_a1111_csv_with_dividers_and_old_format(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text('name,prompt,negative_prompt\n"# Portraits","",""\nA, "a, b",\nB,{prompt} c\n', encoding="utf-8")
    styles = load_styles(path)
    assert list(styles) == ["A", "B"]
    assert styles["A"] == PromptStyle("A", "a, b", "") and styles["B"].negative_prompt == ""
    old = tmp_path / "old.csv"
    old.write_text("name,text\nX,old style\n", encoding="utf-8")
    assert load_styles(old) == {"X": PromptStyle("X", "old style", "")}


def test_user_errors(tmp_path):
    db = StyleDatabase(tmp_path / "styles.csv")
    db.set(PromptStyle("A", "a"))
    with pytest.raises(NotFound, match="'Nope'.*valid: A"):
        db.apply_styles_to_prompt("x", ["Nope"])
    with pytest.raises(NotFound):
        db.delete("Nope")
    with pytest.raises(InvalidInput):
        db.set(PromptStyle("  "))
    db.delete("A")
    assert db.names() == []
    bad = tmp_path / "bad.csv"
    bad.write_text("title,body\nx,y\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="name,prompt,negative_prompt"):
        load_styles(bad)
