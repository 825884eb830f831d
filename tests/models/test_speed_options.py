"""Token merging, HyperTile and feature caching on a tiny diffusers UNet: off is the plain call, on changes the
output but stays close to it (bounds with room for float32 and bfloat16 alike), and nothing stays patched."""
from __future__ import annotations

import pytest
import torch

from modules.errors import InvalidInput
from modules.models.speedups import hypertile as ht
from modules.models.speedups import tome
from modules.models.speedups.options import NO_PATCHES, HyperTile, UnetPatches
from modules.models.speedups.run import UnetRun
from tests.fixtures.tiny_model import tiny_models, tiny_yaml

DTYPES = [torch.float32, torch.bfloat16]


@pytest.fixture(scope="module")
def unet():
    return tiny_models(tiny_yaml())[0]


def inputs(dtype, size: int = 32, seed: int = 0):
    """x [2, 4, size, size], t [2], context [2, 77, 32]: a 256-pixel image's latents, cond and uncond rows."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, size, size, generator=gen).to(dtype)
    context = torch.randn(2, 77, 32, generator=gen).to(dtype)
    return x, torch.tensor([500.0, 500.0]), context


def plain(unet, x, t, context):
    with torch.no_grad():
        return unet(x, t, encoder_hidden_states=context, return_dict=False)[0].float()


def relative_error(out, ref) -> float:
    return float((out - ref).norm() / ref.norm())


def processors(unet) -> list:
    return [m.processor for m in unet.modules() if hasattr(m, "processor")]


# ---- the pure parts --------------------------------------------------------------------------------------------

def test_merge_averages_into_the_most_similar_destination_and_unmerge_copies_back():
    x = torch.randn(1, 16, 4, generator=torch.Generator().manual_seed(1))  # a 4 × 4 grid
    x[0, 1] = x[0, 0]  # token 1 (a source) is token 0 (its cell's destination) exactly
    plan = tome.plan_merge(x, 4, 4, 0.25)
    assert plan.r == 4 and int(plan.src_idx[plan.moved[0, 0]]) == 1  # the identical pair merges first
    merged = tome.merge(plan, x)  # [1, 12, 4]
    assert merged.shape == (1, 12, 4)
    back = tome.unmerge(plan, merged)  # [1, 16, 4]
    kept = plan.src_idx[plan.kept[0]]
    assert torch.equal(back[0, kept], x[0, kept])  # unmerged tokens come back as they were
    moved, target = plan.src_idx[plan.moved[0]], plan.dst_idx[plan.target[0]]
    assert torch.equal(back[0, moved], back[0, target])  # merged ones take their destination's value
    assert torch.allclose(back[0, 1], x[0, 0])  # the mean of two equal tokens


def test_merge_ratio_zero_plans_nothing():
    assert tome.plan_merge(torch.randn(1, 16, 4), 4, 4, 0.0) is None


def test_tiles_split_and_join_back():
    x = torch.arange(2 * 8 * 6 * 3, dtype=torch.float32).reshape(2, 48, 3)  # an 8 × 6 grid
    tiles = ht.split_tiles(x, 8, 6, 2, 3)  # [12, 8, 3]
    assert tiles.shape == (12, 8, 3)
    assert torch.equal(tiles[1].reshape(4, 2, 3), x[0].reshape(8, 6, 3)[:4, 2:4])  # tile (0, 1)
    assert torch.equal(ht.join_tiles(tiles, 8, 6, 2, 3), x)


@pytest.mark.parametrize("field, values", [
    ("token_merging_ratio", {"token_merging_ratio": 0.95}),
    ("token_merging_ratio", {"token_merging_ratio": -0.1}),
    ("deep_cache_interval", {"deep_cache_interval": 0}),
])
def test_out_of_range_values_are_refused_naming_the_field(field, values):
    with pytest.raises(InvalidInput, match=field):
        UnetPatches(**values)


def test_off_is_inactive_and_the_engine_takes_the_plain_path():
    assert not NO_PATCHES.active and not UnetPatches(token_merging_ratio=0.0).active
    from modules.models.engines.sd1 import SD1Engine

    assert SD1Engine.unet_run(None, UnetPatches(), lambda: 0) is None  # nothing on: no wrapper at all


# ---- on the UNet -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("patches, bound", [
    (UnetPatches(token_merging_ratio=0.5), 0.15),
    (UnetPatches(hypertile=HyperTile(max_tile=128, swap_size=1)), 0.25),
    (UnetPatches(token_merging_ratio=0.5, hypertile=HyperTile(max_tile=128, swap_size=1)), 0.3),
])
def test_attention_options_change_the_output_but_stay_close(unet, dtype, patches, bound):
    net = unet.to(dtype)
    x, t, context = inputs(dtype)
    before = processors(net)
    ref = plain(net, x, t, context)
    with torch.no_grad():
        out = UnetRun(net, patches, lambda: 0)(x, t, context, {}).float()
    assert (out - ref).abs().max() > 0
    assert relative_error(out, ref) < bound
    assert processors(net) == before  # the layers' own processors are back
    assert torch.equal(plain(net, x, t, context), ref)
    unet.float()


def test_hypertile_only_tiles_what_is_large_enough(unet):
    """At 64 pixels no tile fits (A1111's floor of 128 pixels): the call is the plain one."""
    x, t, context = inputs(torch.float32, size=8)
    with torch.no_grad():
        out = UnetRun(unet, UnetPatches(hypertile=HyperTile()), lambda: 0)(x, t, context, {})
    assert torch.equal(out.float(), plain(unet, x, t, context))


def test_patches_come_off_after_an_error(unet):
    before = processors(unet)
    x, t, context = inputs(torch.float32)
    with pytest.raises(RuntimeError):
        UnetRun(unet, UnetPatches(token_merging_ratio=0.5), lambda: 0)(x, t, context[:, :, :7], {})
    assert processors(unet) == before


@pytest.mark.parametrize("dtype", DTYPES)
def test_feature_cache_reuses_on_the_steps_between_and_stays_close(unet, dtype):
    net = unet.to(dtype)
    x, t, context = inputs(dtype)
    x1, t1 = x + 0.1 * inputs(dtype, seed=5)[0], torch.tensor([450.0, 450.0])  # the next step's inputs
    for reused_inputs in ((x, t), (x1, t1)):
        step = {"now": 0}
        run = UnetRun(net, UnetPatches(deep_cache_interval=2), lambda step=step: step["now"])
        with torch.no_grad():
            full = run(x, t, context, {}).float()
            step["now"] = 1
            cached = run(*reused_inputs, context, {}).float()
        if reused_inputs[0] is x:
            assert torch.equal(cached, full)  # nothing changed: the shallow branch gives the full output
    ref = plain(net, x1, t1, context)
    assert (cached - ref).abs().max() > 0
    assert relative_error(cached, ref) < 0.35
    unet.float()


def test_feature_cache_is_keyed_by_step_and_call_slot(unet):
    """Two calls per step (as a second-order sampler with cond and uncond apart makes): on cached steps the deep
    levels never run and each call reuses the feature of its own slot."""
    x, t, context = inputs(torch.float32)
    rows = [(x[:1], context[:1]), (x[1:], context[1:])]
    deep_calls = []
    hook = unet.mid_block.register_forward_hook(lambda *a: deep_calls.append(1))
    step = {"now": 0}
    run = UnetRun(unet, UnetPatches(deep_cache_interval=3), lambda: step["now"])
    outs = {}
    try:
        with torch.no_grad():
            for step["now"] in range(6):
                for slot, (xi, ci) in enumerate(rows):
                    outs[step["now"], slot] = run(xi, t[:1], ci, {})
    finally:
        hook.remove()
    assert len(deep_calls) == 4  # steps 0 and 3, two calls each
    for s in (1, 2, 4, 5):  # unchanged inputs: each slot's reuse equals its own full output
        assert torch.equal(outs[s, 0], outs[0, 0]) and torch.equal(outs[s, 1], outs[0, 1])
    assert not torch.equal(outs[0, 0], outs[0, 1])


def test_feature_cache_refuses_a_unet_without_a_shallow_branch(unet):
    import copy

    odd = copy.deepcopy(unet)
    odd.up_blocks[-1].resnets = odd.up_blocks[-1].resnets[:1]
    with pytest.raises(InvalidInput, match="deep_cache_interval"):
        UnetRun(odd, UnetPatches(deep_cache_interval=2), lambda: 0)


def test_feature_cache_adds_controlnet_residuals_to_the_shallow_skips(unet):
    """ControlNet's residuals reach the skips the shallow branch uses: unchanged inputs give the full output."""
    x, t, context = inputs(torch.float32)
    gen = torch.Generator().manual_seed(3)
    shapes = [(2, 32, 32, 32), (2, 32, 32, 32), (2, 32, 16, 16), (2, 64, 16, 16)]  # the tiny UNet's skips
    kwargs = {"down_block_additional_residuals": tuple(torch.randn(s, generator=gen) for s in shapes),
              "mid_block_additional_residual": torch.randn(2, 64, 16, 16, generator=gen)}
    step = {"now": 0}
    run = UnetRun(unet, UnetPatches(deep_cache_interval=2), lambda: step["now"])
    with torch.no_grad():
        full = run(x, t, context, kwargs)
        step["now"] = 1
        assert torch.equal(run(x, t, context, kwargs), full)
    assert not torch.equal(full, plain(unet, x, t, context))  # the residuals did change the output
