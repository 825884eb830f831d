"""A1111's `modules.ui_prompt_styles`: the styles row's button symbols and `materialize_styles` (the 📋 button:
write the chosen styles into the prompts and clear the choice), which extensions reuse on their own prompt boxes.
A1111's style editor class is part of its page builder; Easel's is modules/ui."""
from __future__ import annotations

from modules.extensions.compat.absent import _UI

styles_edit_symbol = "\U0001f58c\ufe0f"  # 🖌️
styles_materialize_symbol = "\U0001f4cb"  # 📋
styles_copy_symbol = "\U0001f4dd"  # 📝


def materialize_styles(prompt: str, negative_prompt: str, styles) -> list:
    """Updates for (prompt box, negative prompt box, styles dropdown): the styles applied, none chosen any more."""
    import gradio as gr

    from modules.extensions.compat.styles import apply_negative_styles, apply_styles

    return [gr.update(value=apply_styles(prompt, styles)),
            gr.update(value=apply_negative_styles(negative_prompt, styles)), gr.update(value=[])]


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.ui_prompt_styles.{name}: {_UI} (docs/a1111-compat.md)")
