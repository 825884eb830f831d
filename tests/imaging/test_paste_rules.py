"""A1111's Infotext settings when an infotext is pasted (API `infotext`, the page's paste): styles inferred from the
prompts, fields disregarded, the checkpoint from `Model hash` only when auto swap is allowed."""
from __future__ import annotations

import pytest

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.imaging.paste_rules import PasteRules, apply_paste_rules
from modules.prompts.styles import PromptStyle, StyleDatabase

TEXT = ("a cat, masterpiece, best quality\nNegative prompt: dog, blurry\n"
        "Steps: 12, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, Model hash: 1a3cf2d9cd, Version: v1.10.1")


@pytest.fixture
def styles(tmp_path):
    db = StyleDatabase(tmp_path / "styles.csv")
    db.set(PromptStyle("Quality", "{prompt}, masterpiece, best quality", "blurry"))
    db.set(PromptStyle("Unused", "oil painting", ""))
    return db


def pasted(text, rules, styles):
    return apply_paste_rules(parse_infotext(text), rules, styles, list(parse_infotext(text, defaults=False)))


@pytest.mark.parametrize("mode, prompt, negative, found", [
    ("Apply if any", "a cat", "dog", ["Quality"]),
    ("Apply", "a cat", "dog", ["Quality"]),
    ("Discard", "a cat", "dog", None),
    ("Ignore", "a cat, masterpiece, best quality", "dog, blurry", None),
])
def test_styles_are_inferred_as_the_setting_says(styles, mode, prompt, negative, found):
    params = pasted(TEXT, PasteRules(styles=mode), styles)
    assert (params["Prompt"], params["Negative prompt"], params.get("Styles array")) == (prompt, negative, found)


def test_apply_sets_an_empty_list_when_no_style_matches_and_apply_if_any_sets_none(styles):
    plain = TEXT.replace(", masterpiece, best quality", "").replace(", blurry", "")
    assert pasted(plain, PasteRules(styles="Apply"), styles)["Styles array"] == []
    assert "Styles array" not in pasted(plain, PasteRules(styles="Apply if any"), styles)


@pytest.mark.parametrize("hires, version, expected", [
    ("a dog, masterpiece, best quality", "v1.10.1", ("a cat", ["Quality"], "a dog")),
    ("a cat, masterpiece, best quality", "v1.10.1", ("a cat", ["Quality"], "")),  # the same once peeled
    ("a dog", "v1.10.1", ("a cat, masterpiece, best quality", None, "a dog")),  # other styles: nothing peeled
    ("a dog", "v1.7.0", ("a cat", ["Quality"], "a dog")),  # older images wrote hires prompts without styles
])
def test_hires_prompts_are_peeled_with_the_same_styles(styles, hires, version, expected):
    text = TEXT.replace("v1.10.1", version).replace("Version:", f'Hires prompt: "{hires}", Version:')
    params = pasted(text, PasteRules(), styles)
    assert (params["Prompt"], params.get("Styles array"), params["Hires prompt"]) == expected


def test_disregarded_fields_are_dropped(styles):
    params = pasted(TEXT, PasteRules(skip=("Seed", "CFG scale")), styles)
    assert "Seed" not in params and "CFG scale" not in params and params["Steps"] == "12"


def test_the_api_fills_styles_and_the_checkpoint_only_when_asked(styles):
    fields = {"prompt", "negative_prompt", "seed", "styles", "steps"}
    out = fill_from_infotext({}, set(), TEXT, fields, PasteRules(), styles)
    assert (out["prompt"], out["styles"], "sd_model_checkpoint" in out["override_settings"]) == \
        ("a cat", ["Quality"], False)
    swap = fill_from_infotext({}, set(), TEXT, fields, PasteRules(checkpoint=True), styles)
    assert swap["override_settings"]["sd_model_checkpoint"] == "1a3cf2d9cd"
    mine = fill_from_infotext({"styles": ["Unused"]}, {"styles"}, TEXT, fields, PasteRules(), styles)
    assert mine["styles"] == ["Unused"]  # a field the request sets is its own
    skipped = fill_from_infotext({"seed": -1}, set(), TEXT, fields, PasteRules(skip=("Seed",)), styles)
    assert skipped["seed"] == -1


def test_an_unknown_style_mode_is_refused_naming_the_setting():
    with pytest.raises(InvalidInput, match="infotext_styles"):
        PasteRules(styles="Sometimes")


A1111_SETTINGS_TEXT = ("a cat\nSteps: 12, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64, "
                       "Face restoration: CodeFormer, VAE: mine.safetensors, Eta: 0.5, Sigma churn: 0.25, "
                       "NGMS: 1.2, NGMS all steps: True, Discard penultimate sigma: True, Emphasis: No norm, "
                       "Tiling: True, Version: v1.5.1")


def test_every_a1111_setting_key_becomes_an_override():
    out = fill_from_infotext({}, set(), A1111_SETTINGS_TEXT, {"prompt"}, PasteRules(), None, ["mine.safetensors"])
    overrides = out["override_settings"]
    assert {k: overrides[k] for k in ("face_restoration", "sd_vae", "eta_ancestral", "s_churn", "s_min_uncond",
                                      "s_min_uncond_all", "always_discard_next_to_last_sigma", "emphasis",
                                      "tiling")} == \
        {"face_restoration": True, "sd_vae": "mine.safetensors", "eta_ancestral": 0.5, "s_churn": 0.25,
         "s_min_uncond": 1.2, "s_min_uncond_all": True, "always_discard_next_to_last_sigma": True,
         "emphasis": "No norm", "tiling": True}
    assert "use_old_scheduling" not in overrides  # v1.5.1, but the prompt edits nothing
    assert overrides["use_downcasted_alpha_bar"] is True  # images before 1.7.0-225 were sampled so


def test_an_unknown_vae_is_left_out_and_backcompat_follows_its_setting():
    text = A1111_SETTINGS_TEXT.replace("a cat", "a [cat:dog:0.5]")
    out = fill_from_infotext({}, set(), text, {"prompt"}, PasteRules(), None, ["other.safetensors"])
    assert "sd_vae" not in out["override_settings"] and out["override_settings"]["use_old_scheduling"] is True
    plain = fill_from_infotext({}, set(), text, {"prompt"}, PasteRules(backcompat=False), None, ())
    assert "use_old_scheduling" not in plain["override_settings"]
    assert "use_downcasted_alpha_bar" not in plain["override_settings"]
