"""`Conditioning`: rows of different token lengths share one value without NaN markers; pooled outputs and added
conditioning follow their rows through cat, stack and select."""
from __future__ import annotations

import pytest
import torch

from modules.conditioning.types import Conditioning, as_conditioning
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.sample import SamplerChoice, model_denoiser
from modules.pipeline.seeds import ImagePlan
from tests.pipeline.conftest import make_app

LONG = ", ".join(["a red circle on a blue background"] * 15)  # > 75 tokens: two chunks


def rows(n: int, tokens: int, start: float = 0.0, pooled: bool = False) -> Conditioning:
    x = torch.arange(n * tokens * 2, dtype=torch.float32).reshape(n, tokens, 2) + start  # [n, tokens, 2]
    return Conditioning(x, pooled=torch.full((n, 3), start) if pooled else None,
                        added={"time_ids": torch.full((n, 6), start)} if pooled else {})


def test_cat_keeps_each_rows_length_and_pads_with_zeros():
    long, short = rows(2, 154, pooled=True), rows(1, 77, start=1000.0, pooled=True)
    both = Conditioning.cat([long, short])
    assert both.token_lengths == (154, 154, 77) and both.cross_attn.shape == (3, 154, 2)
    assert not torch.isnan(both.cross_attn).any() and both.cross_attn[2, 77:].abs().sum() == 0
    assert torch.equal(both.pooled[2], short.pooled[0])
    assert torch.equal(both.added["time_ids"][:2], long.added["time_ids"])
    part = both.select([2], 77)
    assert torch.equal(part.cross_attn, short.cross_attn) and torch.equal(part.pooled, short.pooled)
    assert part.extras.keys() == {"pooled", "added"}
    assert Conditioning.cat([long, long]).lengths is None  # equal lengths: nothing to record


def test_stack_repeats_the_last_token_as_a1111():
    stacked = Conditioning.stack([rows(1, 77), rows(1, 154, start=5.0)])
    assert stacked.cross_attn.shape == (2, 154, 2) and stacked.lengths is None
    assert torch.equal(stacked.cross_attn[0, 77:], stacked.cross_attn[0, 76:77].expand(77, 2))


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="lengths"):
        Conditioning(torch.zeros(2, 77, 4), lengths=(77,))
    with pytest.raises(ValueError, match="lengths"):
        Conditioning(torch.zeros(1, 77, 4), lengths=(78,))
    assert as_conditioning(torch.zeros(1, 77, 4)).token_lengths == (77,)


def test_rows_with_and_without_pooled_embeddings_are_not_joined():
    for join in (Conditioning.cat, Conditioning.stack):
        with pytest.raises(ValueError, match="1 of 2 conditionings have no pooled embedding"):
            join([rows(1, 77, pooled=True), rows(1, 77)])


def test_extras_are_the_unet_keyword_arguments():
    assert rows(1, 77).extras == {}
    extras = rows(2, 77, start=1.0, pooled=True).extras
    assert extras.keys() == {"pooled", "added"} and extras["pooled"].shape == (2, 3)
    assert extras["added"]["time_ids"].shape == (2, 6)


def test_a_long_prompt_and_a_short_negative_keep_their_own_lengths(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, tiny_checkpoint)
    model = app.models.get(None)
    plan = ImagePlan((LONG,), ("",), (1,), (1,), 1)
    conds = step_conditioning(app.services.conditioning, model, plan, 1, 4, app.options.snapshot(), False)
    cond, uncond = conds.cond(0).tensor, conds.uncond(0)
    assert cond.token_lengths == (154,) and uncond.token_lengths == (77,)  # no NaN rows stand in for a length
    assert torch.isfinite(cond.cross_attn).all() and torch.isfinite(uncond.cross_attn).all()
    seen = []
    model.unet_forward = lambda x, t, context, concat=None: seen.append(context.shape[1]) or torch.zeros_like(x)
    spec, _ = app.services.samplers.resolve_sampler("Euler")
    denoise = model_denoiser(model, SamplerChoice(spec, None, {}, {}), exact_rows=False)
    denoise(torch.zeros(2, 4, 8, 8), torch.tensor([1.0, 1.0]), cond=Conditioning.cat([cond, uncond]))
    assert seen == [154, 77]  # cond and uncond through the UNet apart, each unpadded
