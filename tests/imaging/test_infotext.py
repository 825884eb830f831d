"""Infotext writing and reading: Easel round trips and texts written by A1111 1.10."""
import pytest

from modules.errors import InvalidInput
from modules.imaging.infotext import (
    INFOTEXT_DEFAULTS,
    INFOTEXT_KEY_ORDER,
    format_infotext,
    parse_infotext,
)

A1111_BASIC = """a castle, (masterpiece:1.2)
Negative prompt: blurry, lowres
Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, \
Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"""

PARAMS = {
    "Steps": 20, "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": 7.5, "Seed": 42,
    "Size": "512x768", "Model hash": "6ce0161689", "Model": "v1-5-pruned-emaonly", "Version": "v1.10.1",
}


def test_a1111_basic_example():
    res = parse_infotext(A1111_BASIC)
    assert res["Prompt"] == "a castle, (masterpiece:1.2)"
    assert res["Negative prompt"] == "blurry, lowres"
    assert res["Steps"] == "20"
    assert res["Sampler"] == "DPM++ 2M"
    assert res["Schedule type"] == "Karras"
    assert res["CFG scale"] == "7"
    assert res["Seed"] == "1234567890"
    assert (res["Size-1"], res["Size-2"]) == ("512", "768")
    assert "Size" not in res
    assert res["Model hash"] == "6ce0161689"
    assert res["Model"] == "v1-5-pruned-emaonly"
    assert res["Version"] == "v1.10.1"
    written = parse_infotext(A1111_BASIC, defaults=False)
    assert all(isinstance(v, str) for v in written.values())  # what the text says stays text


def test_fill_ins_keep_a1111s_types():
    """A1111's `parse_generation_parameters` fills missing keys with typed values (/png-info returns them as JSON
    numbers and booleans); `Emphasis` appears when a prompt weights text."""
    res = parse_infotext(A1111_BASIC)
    assert (res["Hires resize-1"], res["Hires resize-2"], res["Masked area padding"]) == (0, 0, 32)
    assert (res["Schedule max sigma"], res["Schedule min sigma"], res["Schedule rho"]) == (0, 0, 0)
    assert all(type(res[k]) is int for k in ("Hires resize-1", "Masked area padding", "Schedule rho"))
    assert res["Hires schedule type"] == "Use same scheduler" and res["Hires sampler"] == "Use same sampler"
    assert res["Emphasis"] == "Original" and res["Refiner switch by sampling steps"] is False
    assert res["Clip skip"] == "1" and "Cache FP16 weight for LoRA" not in res
    plain = parse_infotext("a castle\nSteps: 20, Seed: 1, Size: 64x64, FP8 weight: Enable for SDXL")
    assert "Emphasis" not in plain and plain["Cache FP16 weight for LoRA"] is False
    kept = parse_infotext("a (castle)\nSteps: 20, Seed: 1, Emphasis: No norm, Hires schedule type: Karras")
    assert (kept["Emphasis"], kept["Hires schedule type"]) == ("No norm", "Karras")


def test_old_versions_get_a1111s_backcompat_flags():
    old = parse_infotext("a [cat:dog:5]\nSteps: 20, Sampler: DDIM, Seed: 1, Version: v1.5.2")
    assert old["Old prompt editing timelines"] is True and old["Pad conds v0"] is True
    assert old["Downcast alphas_cumprod"] is True
    assert "Downcast alphas_cumprod" not in parse_infotext(A1111_BASIC)
    assert parse_infotext("a\nSteps: 20, Seed: 1, Version: v1.7.0-225-gabc")["Refiner switch by sampling steps"] \
        is False


def test_format_reproduces_a1111_text_exactly():
    params = {"Steps": 20, "Sampler": "DPM++ 2M", "Schedule type": "Karras", "CFG scale": 7.0,
              "Seed": 1234567890, "Size": "512x768", "Model hash": "6ce0161689", "Model": "v1-5-pruned-emaonly",
              "Version": "v1.10.1"}
    assert format_infotext("a castle, (masterpiece:1.2)", "blurry, lowres", params) == A1111_BASIC


def test_quoted_lora_hashes_and_hires_params():
    text = ("a cat <lora:a:0.8> <lora:b:1>\n"
            "Steps: 30, Sampler: Euler a, CFG scale: 6.5, Seed: 7, Size: 512x512, Denoising strength: 0.7, "
            'Hires upscale: 2, Hires upscaler: Latent, Lora hashes: "a: 123abc, b: 456def", Version: v1.10.1')
    res = parse_infotext(text)
    assert res["Prompt"] == "a cat <lora:a:0.8> <lora:b:1>"
    assert res["Negative prompt"] == ""
    assert res["Lora hashes"] == "a: 123abc, b: 456def"
    assert res["Hires upscale"] == "2"
    assert res["Hires upscaler"] == "Latent"
    assert res["Denoising strength"] == "0.7"
    assert res["CFG scale"] == "6.5"


def test_prompt_only_text_has_no_params():
    res = parse_infotext("a photo of a dog, sharp focus, 85mm: bokeh")
    assert res["Prompt"] == "a photo of a dog, sharp focus, 85mm: bokeh"
    assert res["Negative prompt"] == ""
    assert "Steps" not in res


def test_last_line_with_two_pairs_is_prompt_text():
    res = parse_infotext("first line\nstyle: oil, mood: dark", defaults=False)
    assert res == {"Prompt": "first line\nstyle: oil, mood: dark", "Negative prompt": ""}


def test_multiline_negative_prompt_runs_to_last_line():
    text = "p1\np2\nNegative prompt: n1\nn2\nn3\nSteps: 5, Seed: 1, Size: 64x64"
    res = parse_infotext(text)
    assert res["Prompt"] == "p1\np2"
    assert res["Negative prompt"] == "n1\nn2\nn3"


def test_windows_line_endings():
    res = parse_infotext(A1111_BASIC.replace("\n", "\r\n"))
    assert res["Negative prompt"] == "blurry, lowres"
    assert res["Version"] == "v1.10.1"


@pytest.mark.parametrize("prompt, negative", [
    ("plain", ""),
    ("a, b, c: d", "e, f: g"),
    ('he said "hi", then (left:1.3)', 'no "quotes"'),
    ("line one\nline two, with comma\nline three: colon", "neg one\nneg two"),
    ("日本語のプロンプト, émoji 🎨, ÄÖÜ", "ぼやけた"),
    ("Steps: 20, Seed: 1, Size: 5x5 inside the prompt", ""),
    ("[cat:dog:0.5] AND a bird :1.2 BREAK x", "[(worst quality:1.4)]"),
])
def test_round_trip_prompts(prompt, negative):
    text = format_infotext(prompt, negative, PARAMS)
    res = parse_infotext(text)
    assert res["Prompt"] == prompt
    assert res["Negative prompt"] == negative
    assert res["CFG scale"] == "7.5"
    assert (res["Size-1"], res["Size-2"]) == ("512", "768")


@pytest.mark.parametrize("value", [
    "a: 1, b: 2", "with\nnewline", 'say "x", ok', '"starts quoted"', "ünïcödé, ✓", "back\\slash, c", "",
    "x" * 500, "trailing-colon:", 'lone " quote',
])
def test_round_trip_awkward_values(value):
    params = {**PARAMS, "Lora hashes": value, "Script": "X/Y/Z plot"}
    res = parse_infotext(format_infotext("p", "", params), defaults=False)
    assert res["Lora hashes"] == value
    assert res["Script"] == "X/Y/Z plot"
    assert res["Version"] == "v1.10.1"


def test_key_order_fixed_then_extras_then_version():
    params = {"Version": "v1", "Lora hashes": "x", "Seed": 3, "Hires upscale": 2.0, "Steps": 10,
              "Sampler": "Euler", "Clip skip": 2, "Emphasis": "No norm"}
    last = format_infotext("p", "", params).split("\n")[-1]
    keys = [pair.split(": ")[0] for pair in last.split(", ")]
    assert keys == ["Steps", "Sampler", "Seed", "Clip skip", "Lora hashes", "Hires upscale", "Emphasis", "Version"]
    assert "Hires upscale: 2," in last


def test_none_values_skipped_and_negative_line_only_when_non_empty():
    text = format_infotext("p", "", {"Steps": 20, "VAE": None, "Seed": 1, "Size": "64x64"})
    assert text == "p\nSteps: 20, Seed: 1, Size: 64x64"
    assert "Negative prompt" not in text
    assert format_infotext("p", "n", {"Steps": 1}) == "p\nNegative prompt: n\nSteps: 1"


def test_float_formatting():
    last = format_infotext("p", "", {"CFG scale": 7.0, "Denoising strength": 0.75, "Hires upscale": 1.5,
                                     "Variation seed strength": 1.0}).split("\n")[-1]
    assert last == "CFG scale: 7, Variation seed strength: 1, Denoising strength: 0.75, Hires upscale: 1.5"


def test_value_equal_to_key_written_alone():
    last = format_infotext("p", "", {"Steps": 1, "Seed": 2, "Size": "8x8", "NoiseFlag": "NoiseFlag"})
    assert last.endswith("Size: 8x8, NoiseFlag")


def test_unreadable_key_is_refused():
    with pytest.raises(InvalidInput, match="infotext key"):
        format_infotext("p", "", {"Steps": 1, "Bad, key": 2})


def test_empty_prompt_writes_params_only():
    text = format_infotext("", "", {"Steps": 20, "Seed": 5, "Size": "64x64"})
    assert text == "Steps: 20, Seed: 5, Size: 64x64"
    res = parse_infotext(text)
    assert res["Prompt"] == "" and res["Steps"] == "20"


def test_defaults_filled_only_when_missing():
    res = parse_infotext(A1111_BASIC)
    for key, value in INFOTEXT_DEFAULTS:
        if key != "Schedule type":
            assert res[key] == value
    assert res["Schedule type"] == "Karras"
    with_clip = parse_infotext(A1111_BASIC.replace("Version:", "Clip skip: 2, RNG: CPU, Version:"))
    assert with_clip["Clip skip"] == "2"
    assert with_clip["RNG"] == "CPU"


def test_hypernet_appends_prompt_tag():
    res = parse_infotext("a\nSteps: 1, Seed: 2, Hypernet: anime, Hypernet strength: 0.5")
    assert res["Prompt"] == "a<hypernet:anime:0.5>"


def test_old_hires_fix_first_pass_size():
    res = parse_infotext("a\nSteps: 1, Seed: 2, Size: 1024x768, First pass size: 0x0")
    assert (res["Size-1"], res["Size-2"]) == (640, 448)
    assert (res["Hires resize-1"], res["Hires resize-2"]) == (1024, 768)
    res = parse_infotext("a\nSteps: 1, Seed: 2, Size: 1024x1024, First pass size: 512x512")
    assert (res["Size-1"], res["Size-2"], res["Hires resize-1"]) == (512, 512, 1024)


def test_key_order_table_matches_compat():
    compat = ["Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
              "Model hash", "Model", "VAE hash", "VAE", "Variation seed", "Variation seed strength",
              "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip", "ENSD",
              "Token merging ratio", "Init image hash", "RNG", "Tiling"]
    assert [k for k in INFOTEXT_KEY_ORDER if k in compat] == compat


def test_a_key_the_reader_cuts_short_is_written_as_a1111_writes_it():
    """An extension's key with a full stop (sd-webui-cads: "CADS Apply To Hires. Fix") does not stop the
    generation; the pairs around it read back unchanged."""
    text = format_infotext("p", "", {"Steps": 3, "CADS Apply To Hires. Fix": False, "Seed": 2})
    assert text.endswith("Steps: 3, Seed: 2, CADS Apply To Hires. Fix: False")
    res = parse_infotext(text)
    assert res["Steps"] == "3" and res["Seed"] == "2" and res["Fix"] == "False"
