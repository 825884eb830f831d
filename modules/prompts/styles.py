"""Prompt styles: named prompt/negative-prompt snippets kept in `styles.csv` (`name,prompt,negative_prompt`).

A style's prompt containing `{prompt}` wraps the user's prompt; otherwise it is appended with `, `.
Extraction undoes that, so an infotext's prompt can be turned back into prompt + styles, as A1111's
"apply styles from prompt" does.

>>> merge_prompts("masterpiece, {prompt}, 8k", "a cat")
'masterpiece, a cat, 8k'
>>> merge_prompts("masterpiece", " a cat ")
'a cat, masterpiece'
>>> merge_prompts("masterpiece", "")
'masterpiece'
>>> apply_styles_to_prompt("a cat", ["oil painting", "best, {prompt}"])
'best, a cat, oil painting'
>>> extract_style_text_from_prompt("masterpiece", "1girl, art by greg, masterpiece")
(True, '1girl, art by greg')
>>> extract_style_text_from_prompt("masterpiece, {prompt}", "masterpiece, 1girl, art by greg")
(True, '1girl, art by greg')
>>> extract_style_text_from_prompt("masterpiece, {prompt}", "exquisite, 1girl, art by greg")
(False, 'exquisite, 1girl, art by greg')
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Sequence

from modules.errors import InvalidInput, NotFound

FIELDS = ("name", "prompt", "negative_prompt")
PLACEHOLDER = "{prompt}"


@dataclass(frozen=True)
class PromptStyle:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


def merge_prompts(style_prompt: str, prompt: str) -> str:
    """Put `prompt` into the style's `{prompt}`, or append the style to it with `, `."""
    if PLACEHOLDER in style_prompt:
        return style_prompt.replace(PLACEHOLDER, prompt)
    return ", ".join(part for part in (prompt.strip(), style_prompt.strip()) if part)


def apply_styles_to_prompt(prompt: str, style_prompts: Iterable[str]) -> str:
    """Apply style texts in order (the first one applied is innermost)."""
    for style_prompt in style_prompts:
        prompt = merge_prompts(style_prompt, prompt)
    return prompt


def extract_style_text_from_prompt(style_text: str, prompt: str) -> tuple[bool, str]:
    """Undo `merge_prompts`: (True, prompt without the style) if the style is found, else (False, prompt)."""
    stripped = prompt.strip()
    style = style_text.strip()
    if PLACEHOLDER in style:
        left, _, right = style.partition(PLACEHOLDER)
        if len(left) + len(right) <= len(stripped) and stripped.startswith(left) and stripped.endswith(right):
            return True, stripped[len(left):len(stripped) - len(right)]
    elif stripped.endswith(style):
        rest = stripped[:len(stripped) - len(style)]
        return True, rest[:-2] if rest.endswith(", ") else rest
    return False, prompt


def extract_original_prompts(style: PromptStyle, prompt: str, negative_prompt: str) -> tuple[bool, str, str]:
    """(True, prompt, negative prompt without `style`) when both texts carry it; else the inputs unchanged."""
    if not style.prompt and not style.negative_prompt:
        return False, prompt, negative_prompt
    found, positive = extract_style_text_from_prompt(style.prompt, prompt)
    if not found:
        return False, prompt, negative_prompt
    found, negative = extract_style_text_from_prompt(style.negative_prompt, negative_prompt)
    if not found:
        return False, prompt, negative_prompt
    return True, positive, negative


def load_styles(path: Path) -> dict[str, PromptStyle]:
    """Read a styles CSV (A1111's, BOM or not); rows whose name starts with `#` are dividers and skipped.

    The old two-column format `name,text` is accepted.
    """
    styles: dict[str, PromptStyle] = {}
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file, skipinitialspace=True)
        if reader.fieldnames is None:
            return styles
        if "name" not in reader.fieldnames or not {"prompt", "text"} & set(reader.fieldnames):
            raise InvalidInput(str(path), f"header is {','.join(reader.fieldnames)}", "name,prompt,negative_prompt")
        for row in reader:
            name = row.get("name") or ""
            if not name or name.startswith("#"):
                continue
            prompt = row.get("prompt", row.get("text")) or ""
            styles[name] = PromptStyle(name, prompt, row.get("negative_prompt") or "")
    return styles


def save_styles(path: Path, styles: Iterable[PromptStyle]) -> None:
    """Write the styles CSV atomically (a crash never leaves half a file), UTF-8 with BOM as A1111 writes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".styles-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(FIELDS)
            writer.writerows((s.name, s.prompt, s.negative_prompt) for s in styles)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StyleDatabase:
    """The styles of one data dir; the App owns it, the UI and `/prompt-styles` read and change it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.styles: dict[str, PromptStyle] = {}
        self.reload()

    def reload(self) -> None:
        self.styles = load_styles(self.path) if self.path.is_file() else {}

    def save(self) -> None:
        save_styles(self.path, self.styles.values())

    def names(self) -> list[str]:
        return list(self.styles)

    def get(self, name: str) -> PromptStyle:
        style = self.styles.get(name)
        if style is None:
            valid = ", ".join(self.styles) or "none defined in " + str(self.path)
            raise NotFound(f"style {name!r} not found (valid: {valid})")
        return style

    def set(self, style: PromptStyle) -> None:
        if not style.name.strip():
            raise InvalidInput("style name", "is empty", "any non-empty name")
        self.styles[style.name] = style

    def delete(self, name: str) -> None:
        self.get(name)
        del self.styles[name]

    def apply_styles_to_prompt(self, prompt: str, names: Sequence[str]) -> str:
        return apply_styles_to_prompt(prompt, [self.get(n).prompt for n in names])

    def apply_negative_styles_to_prompt(self, negative_prompt: str, names: Sequence[str]) -> str:
        return apply_styles_to_prompt(negative_prompt, [self.get(n).negative_prompt for n in names])

    def extract_styles_from_prompt(self, prompt: str, negative_prompt: str) -> tuple[list[str], str, str]:
        """Peel styles off the end/outside of both prompts; returns (style names in applying order, rest, rest)."""
        extracted: list[str] = []
        candidates = list(self.styles.values())
        while True:
            for style in candidates:
                found, new_prompt, new_negative = extract_original_prompts(style, prompt, negative_prompt)
                if found:
                    prompt, negative_prompt = new_prompt, new_negative
                    candidates.remove(style)
                    extracted.append(style.name)
                    break
            else:
                return list(reversed(extracted)), prompt, negative_prompt
