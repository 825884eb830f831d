"""What A1111's Infotext settings change when an infotext is read back into a job (the API's `infotext` field, the
page's paste button and "Send to"): `infotext_styles` infers the saved styles from the prompts,
`infotext_skip_pasting` drops fields, and `disable_weights_auto_swap` (on by default) keeps the pasted `Model hash`
from switching the checkpoint.

The style inference is A1111's `parse_generation_parameters` rule: styles whose text sits around the prompts are
peeled off them and, with "Apply" (or "Apply if any" when one was found), become the job's `Styles array`;
"Discard" peels them off and drops them; "Ignore" leaves the prompts as written. The hires prompts are peeled the
same way when the image was made after A1111 1.8.0-139 (or says nothing of its version); if they carry other styles
than the main prompts, nothing is peeled.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from modules.errors import InvalidInput
from modules.imaging.infotext import fill_defaults, parse_infotext, version_tuple

STYLE_MODES = ("Ignore", "Apply", "Discard", "Apply if any")
HR_STYLES_SINCE = (1, 8, 0, 139)  # A1111 1.8.0-139 wrote hires prompts with their styles applied


class StyleSource(Protocol):
    def extract_styles_from_prompt(self, prompt: str, negative_prompt: str) -> tuple[list[str], str, str]: ...


@dataclass(frozen=True)
class PasteRules:
    """The Infotext settings that shape a paste."""

    styles: str = "Apply if any"  # infotext_styles
    skip: tuple[str, ...] = ()  # infotext_skip_pasting: infotext keys to disregard
    checkpoint: bool = False  # not disable_weights_auto_swap: "Model hash" picks the checkpoint
    backcompat: bool = True  # auto_backcompat: an older version's image sets the compatibility flags it needs
    final_size_sliders: bool = False  # use_old_hires_fix_width_height: a Hires resize is pasted as the Size

    def __post_init__(self):
        if self.styles not in STYLE_MODES:
            raise InvalidInput("infotext_styles", f"unknown mode {self.styles!r}", ", ".join(STYLE_MODES))

    @classmethod
    def from_options(cls, opts) -> PasteRules:
        """From a settings snapshot or the option store (either answers `.get(key)`)."""
        return cls(str(opts.get("infotext_styles")), tuple(opts.get("infotext_skip_pasting") or ()),
                   not opts.get("disable_weights_auto_swap"), bool(opts.get("auto_backcompat")),
                   bool(opts.get("use_old_hires_fix_width_height")))


A1111_PASTE_RULES = PasteRules()  # A1111's defaults


def paste_params(text: str, rules: PasteRules = A1111_PASTE_RULES, styles: StyleSource | None = None) -> dict:
    """An infotext's fields as A1111 pastes them: parsed with its fill-ins (and, with `rules.backcompat`, the
    flags of older versions), then the rules applied."""
    params = parse_infotext(text, defaults=False)  # the fields the text itself has
    written = list(params)
    fill_defaults(params, rules.backcompat, rules.final_size_sliders)
    return apply_paste_rules(params, rules, styles, written)


def apply_paste_rules(params: Mapping[str, Any], rules: PasteRules, styles: StyleSource | None,
                      written: Sequence[str]) -> dict[str, Any]:
    """`params` (parse_infotext's result) as A1111 pastes them; `written`: the keys the text itself had (the hires
    prompts count only when written, not filled in)."""
    res = dict(params)
    if rules.styles != "Ignore" and styles is not None:
        _infer_styles(res, rules.styles, styles, written)
    for key in rules.skip:
        res.pop(key, None)
    return res


def _infer_styles(res: dict[str, Any], mode: str, styles: StyleSource, written: Sequence[str]) -> None:
    prompt, negative = str(res.get("Prompt", "")), str(res.get("Negative prompt", ""))
    found, bare, bare_negative = styles.extract_styles_from_prompt(prompt, negative)
    same = True
    version = version_tuple(res.get("Version"))
    if ("Hires prompt" in written or "Hires negative prompt" in written) and \
            (version is None or version > HR_STYLES_SINCE):
        hr_prompt = str(res["Hires prompt"]) if "Hires prompt" in written else prompt
        hr_negative = str(res["Hires negative prompt"]) if "Hires negative prompt" in written else negative
        hr_found, hr_bare, hr_bare_negative = styles.extract_styles_from_prompt(hr_prompt, hr_negative)
        same = hr_found == found
        if same:
            res["Hires prompt"] = "" if hr_bare == bare else hr_bare
            res["Hires negative prompt"] = "" if hr_bare_negative == bare_negative else hr_bare_negative
    if same:
        res["Prompt"], res["Negative prompt"] = bare, bare_negative
        if mode == "Apply" or (mode == "Apply if any" and found):
            res["Styles array"] = found
