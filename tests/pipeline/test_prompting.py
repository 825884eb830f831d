"""Prompt schedules, AND and cond/uncond lengths through the whole txt2img path on the tiny model."""
import numpy as np
import torch

from modules.conditioning.text import encode_prompts
from modules.pipeline.request import GenerationRequest

BASE = dict(negative_prompt="", steps=20, width=64, height=64, seed=5, sampler_name="Euler", cfg_scale=7.0)


def record_contexts(model):
    """Wrap the UNet call to record the conditioning rows [T, C] it receives, call by call."""
    seen = []
    forward = model.unet_forward

    def spy(x, t, context, concat=None):
        seen.extend(context)
        return forward(x, t, context, concat=concat)

    model.unet_forward = spy
    return seen


def which(context, named):
    matches = [name for name, enc in named.items() if enc.shape == context.shape and torch.equal(enc, context)]
    return matches[0] if matches else "?"


def test_prompt_editing_switches_at_a1111s_step(app):
    model = app.models.get(None)
    named = {t: encode_prompts(model, [t], 1)[0][0] for t in ("cat", "dog", "")}  # [77, C] each
    seen = record_contexts(model)
    app.txt2img(GenerationRequest(prompt="[cat:dog:0.5]", **BASE))
    labels = [which(c, named) for c in seen]
    conds = labels[0::2]  # exact rows: per call the cond row, then the uncond row
    assert labels[1::2] == [""] * 20
    # A1111's CFGDenoiser counts model calls from 0 and uses an entry while step <= its end (10 = 0.5 * 20):
    assert conds == ["cat"] * 11 + ["dog"] * 9


def test_alternation_changes_every_step(app):
    model = app.models.get(None)
    named = {t: encode_prompts(model, [t], 1)[0][0] for t in ("a cat", "a dog")}
    seen = record_contexts(model)
    app.txt2img(GenerationRequest(prompt="a [cat|dog]", **{**BASE, "steps": 4}))
    # Schedule entries end at steps 1, 2, 3, 4 (cat, dog, cat, dog); A1111 counts calls from 0 with `<=`:
    assert [which(c, named) for c in seen[0::2]] == ["a cat", "a cat", "a dog", "a cat"]


def mean_difference(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean())


def test_and_weights_enter_cfg(app):
    """A weight-0 AND part adds nothing (the sum differs from plain CFG's lerp only by float rounding, which is
    dtype-dependent); a weighted part changes the picture by far more than that rounding."""
    def image(prompt):
        return app.txt2img(GenerationRequest(prompt=prompt, **{**BASE, "steps": 4})).images[0]

    plain = image("a red circle")
    rounding = mean_difference(plain, image("a red circle AND a red circle:0"))
    changed = mean_difference(plain, image("a red circle AND a blue square:0.8"))
    assert rounding < 0.25 and changed > max(1.0, 10 * rounding), (rounding, changed)


def test_long_prompt_runs_cond_and_uncond_unpadded(app):
    model = app.models.get(None)
    empty = encode_prompts(model, [""], 1)[0][0]  # [77, C]
    seen = record_contexts(model)
    long_prompt = ", ".join(["a red circle on a blue background"] * 15)  # > 75 tokens: two chunks
    request = GenerationRequest(prompt=long_prompt, **{**BASE, "steps": 2, "negative_prompt": "blue"})
    result = app.txt2img(request)
    assert [c.shape[0] for c in seen] == [154, 77, 154, 77]
    uncond = seen[1]
    assert np.isfinite(np.asarray(result.images[0], dtype=float)).all()
    app.options.set("pad_cond_uncond", True)
    seen.clear()
    padded = app.txt2img(request)
    assert [c.shape[0] for c in seen] == [154, 154, 154, 154]
    # the negative prompt's chunk, then the empty prompt's chunk as filler (A1111's pad_cond_uncond)
    assert torch.equal(seen[1][:77], uncond) and torch.equal(seen[1][77:], empty)
    # Whether the filler changes the picture is attention maths plus rounding: with an empty negative prompt the
    # filler repeats the uncond's own tokens and the image is the same but for dtype-dependent rounding, so the
    # test checks what the UNet is given, not the pixels.
    assert np.isfinite(np.asarray(padded.images[0], dtype=float)).all()
    assert "Pad conds: True" in padded.infotexts[0] and "Pad conds" not in result.infotexts[0]


def test_pad_conds_v0_repeats_or_cuts_the_negative_side(app):
    """A1111 before 1.6 with DDIM (`pad_cond_uncond_v0`): the negative side takes the prompt's length by repeating
    its last token, or is cut; the prompt side is never touched."""
    model = app.models.get(None)
    seen = record_contexts(model)
    long_text = ", ".join(["a red circle on a blue background"] * 15)  # > 75 tokens: two chunks
    request = dict(BASE, steps=1, override_settings={"pad_cond_uncond_v0": True, "pad_cond_uncond": True})
    longer = app.txt2img(GenerationRequest(prompt=long_text, **{**request, "negative_prompt": "blue"}))
    cond, uncond = seen[0], seen[1]
    blue = encode_prompts(model, ["blue"], 1)[0][0]  # [77, C]
    assert cond.shape[0] == uncond.shape[0] == 154
    assert torch.equal(uncond[:77], blue) and torch.equal(uncond[77:], blue[-1:].repeat(77, 1))
    assert "Pad conds v0: True" in longer.infotexts[0] and "Pad conds: True" not in longer.infotexts[0]
    seen.clear()
    app.txt2img(GenerationRequest(prompt="blue", **{**request, "negative_prompt": long_text}))
    long_uncond = encode_prompts(model, [long_text], 1)[0][0]  # [154, C]
    assert seen[0].shape[0] == seen[1].shape[0] == 77 and torch.equal(seen[1], long_uncond[:77])


def test_emphasis_mode_in_infotext(app):
    result = app.txt2img(GenerationRequest(prompt="a (red:1.3) circle", **{**BASE, "steps": 2},
                                           override_settings={"emphasis": "No norm"}))
    assert "Emphasis: No norm" in result.infotexts[0]
    default = app.txt2img(GenerationRequest(prompt="a (red:1.3) circle", **{**BASE, "steps": 2}))
    assert "Emphasis" not in default.infotexts[0]


def test_old_prompt_editing_timelines_setting(app):
    """`use_old_scheduling` (infotext "Old prompt editing timelines"): `[cat:dog:1.0]` is the whole run today (a
    fraction), but step 1 with A1111's pre-1.6 rule (a number >= 1 is a step)."""
    model = app.models.get(None)
    named = {t: encode_prompts(model, [t], 1)[0][0] for t in ("cat", "dog", "")}  # [77, C] each
    seen = record_contexts(model)
    app.txt2img(GenerationRequest(prompt="[cat:dog:1.0]", **{**BASE, "steps": 4}))
    today = [which(c, named) for c in seen][0::2]
    seen.clear()
    app.txt2img(GenerationRequest(prompt="[cat:dog:1.0]", **{**BASE, "steps": 4},
                                  override_settings={"use_old_scheduling": True}))
    old = [which(c, named) for c in seen][0::2]
    assert today == ["cat"] * 4 and old == ["cat", "cat", "dog", "dog"]
