"""The prompt row of txt2img and img2img: prompts with token counters, Generate/Interrupt/Skip, paste, styles."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from modules.conditioning.token_counter import count_tokens
from modules.prompts.comments import strip_comments
from modules.errors import EaselError
from modules.prompts.styles import PromptStyle
from modules.ui.context import UiContext


@dataclass
class PromptRow:
    prompt: Any
    negative: Any
    generate: Any
    interrupt: Any
    skip: Any
    paste: Any
    png_drop: Any
    styles: Any


def counter_html(used: int, limit: int) -> str:
    """A1111's `used/limit` badge; `error` class once a new chunk started.

    >>> counter_html(80, 150)
    "<span class='token-count error'>80/150</span>"
    """
    cls = "token-count error" if used > 75 else "token-count"
    return f"<span class='{cls}'>{used}/{limit}</span>"


def token_counter(ctx: UiContext, text: str, steps, is_positive: bool) -> str:
    host = getattr(ctx.app, "scripts", None)
    steps = int(steps or 20)
    if ctx.app.options.get("enable_prompt_comments"):  # comments never reach the encoder: not counted
        text = strip_comments(text or "")
    if host is not None:  # extensions may rewrite the text then (A1111's on_before_token_counter)
        text, steps = host.before_token_counter(text or "", steps, [], is_positive)
    try:
        used, limit = count_tokens(ctx.tokenizer(), text or "", int(steps), is_positive=is_positive)
    except EaselError as e:
        return f"<span class='token-count error' title='{html.escape(e.message)}'>?/75</span>"
    return counter_html(used, limit)


def _style_choices(ctx: UiContext) -> list[str]:
    return ctx.styles.names() if ctx.styles is not None else []


def _build_boxes(tab: str, ctx: UiContext):
    with gr.Column(scale=80, elem_id=f"{tab}_prompt_container"):
        prompt = ctx.add(tab, "prompt", gr.Textbox, label="Prompt", show_label=False, lines=3, max_lines=12,
                         elem_id=f"{tab}_prompt", value="", elem_classes=["prompt"],
                         placeholder="Prompt (Ctrl+Enter to generate, Ctrl+↑/↓ to change emphasis, drop a PNG "
                                     "to read its parameters)")
        counter = gr.HTML(counter_html(0, 75), elem_id=f"{tab}_token_counter", elem_classes=["token-counter"])
        negative = ctx.add(tab, "negative_prompt", gr.Textbox, label="Negative prompt", show_label=False, lines=2,
                           max_lines=12, value="", elem_id=f"{tab}_neg_prompt", elem_classes=["prompt"],
                           placeholder="Negative prompt (Ctrl+Enter to generate)")
        neg_counter = gr.HTML(counter_html(0, 75), elem_id=f"{tab}_negative_token_counter",
                              elem_classes=["token-counter"])
    return prompt, counter, negative, neg_counter


def build(tab: str, ctx: UiContext) -> PromptRow:
    """Lay out the row; the tab wires Generate. Token counters, styles and skip/interrupt are wired here."""
    with gr.Row(elem_id=f"{tab}_toprow", equal_height=False):
        prompt, counter, negative, neg_counter = _build_boxes(tab, ctx)
        with gr.Column(scale=20, min_width=220, elem_id=f"{tab}_actions_column"):
            with gr.Row(elem_id=f"{tab}_generate_box"):
                interrupt = gr.Button("Interrupt", elem_id=f"{tab}_interrupt", min_width=60)
                skip = gr.Button("Skip", elem_id=f"{tab}_skip", min_width=60)
            generate = gr.Button("Generate", variant="primary", elem_id=f"{tab}_generate", elem_classes=["generate"])
            with gr.Row(elem_id=f"{tab}_tools", elem_classes=["tools"]):
                paste = gr.Button("↙️", elem_id=f"{tab}_paste", elem_classes=["tool"], min_width=36,
                                  scale=0)
                clear = gr.Button("🗑️", elem_id=f"{tab}_clear_prompt", elem_classes=["tool"], min_width=36,
                                  scale=0)
                apply_style = gr.Button("📋", elem_id=f"{tab}_style_apply", elem_classes=["tool"], min_width=36,
                                        scale=0)
                save_style = gr.Button("💾", elem_id=f"{tab}_style_create", elem_classes=["tool"], min_width=36,
                                       scale=0)
            styles = ctx.add(tab, "styles", gr.Dropdown, label="Styles", choices=_style_choices(ctx), value=[],
                             multiselect=True, elem_id=f"{tab}_styles")
            png_drop = gr.File(label="PNG with parameters", file_types=["image"], type="binary",
                               visible="hidden", elem_id=f"{tab}_png_drop")
    _wire_counters(ctx, prompt, counter, negative, neg_counter)
    _wire_styles(ctx, prompt, negative, styles, apply_style, save_style)
    clear.click(lambda: ("", ""), inputs=None, outputs=[prompt, negative], queue=False,
                js="() => confirm('Delete prompt?') ? ['', ''] : [null, null]")
    interrupt.click(ctx.app.interrupt, inputs=None, outputs=None, queue=False)
    skip.click(ctx.app.skip, inputs=None, outputs=None, queue=False)
    return PromptRow(prompt, negative, generate, interrupt, skip, paste, png_drop, styles)


def _wire_counters(ctx, prompt, counter, negative, neg_counter) -> None:
    for box, badge, positive in ((prompt, counter, True), (negative, neg_counter, False)):
        box.change(lambda text, p=positive: token_counter(ctx, text, 20, p), inputs=box, outputs=badge,
                   queue=False, show_progress="hidden", trigger_mode="always_last")


def _wire_styles(ctx, prompt, negative, styles, apply_style, save_style) -> None:
    def apply(p, n, names):
        try:
            return (ctx.styles.apply_styles_to_prompt(p or "", names or []),
                    ctx.styles.apply_negative_styles_to_prompt(n or "", names or []), [])
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None

    def save(name, p, n):
        if not name:
            return gr.update()
        try:
            ctx.styles.set(PromptStyle(name.strip(), p or "", n or ""))
            ctx.styles.save()
        except EaselError as e:
            raise gr.Error(e.message, print_exception=False) from None
        gr.Info(f"Style {name.strip()!r} saved")
        return gr.update(choices=ctx.styles.names())

    apply_style.click(apply, inputs=[prompt, negative, styles], outputs=[prompt, negative, styles], queue=False)
    name_box = gr.Textbox(visible=False)
    save_style.click(save, inputs=[name_box, prompt, negative], outputs=styles,  # queued: gr.Info needs it
                     js="(n, p, q) => [prompt('Name of the new style (the prompts become its text)') || '', p, q]")
