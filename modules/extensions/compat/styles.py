"""A1111's `modules.styles`: prompt styles (Easel's, modules/prompts/styles.py); `shared.prompt_styles` is the
App's StyleDatabase, with A1111's method names for the ones extensions call."""
from __future__ import annotations

from modules.prompts.styles import (PromptStyle, StyleDatabase, apply_styles_to_prompt,  # noqa: F401
                                    extract_original_prompts, extract_style_text_from_prompt, merge_prompts)


def _database():
    from modules.extensions.compat import binding

    return binding.app().services.styles


def apply_styles(prompt: str, styles) -> str:
    """`prompt` with the named styles' prompts applied (A1111's StyleDatabase.apply_styles_to_prompt)."""
    db = _database()
    return apply_styles_to_prompt(prompt, [db.get(name).prompt for name in styles or [] if name in db.names()])


def apply_negative_styles(prompt: str, styles) -> str:
    db = _database()
    return apply_styles_to_prompt(prompt, [db.get(name).negative_prompt for name in styles or []
                                           if name in db.names()])
