"""Token merging and HyperTile around the self-attention of diffusers' transformer blocks, for one UNet call.

For the call, each `BasicTransformerBlock`'s self-attention (`attn1`) gets a processor that wraps the one it had:
tokens are cut into tiles (HyperTile), then merged within each tile (token merging), the layer's own processor
attends over what is left, and the result is unmerged and joined back. A forward pre-hook on the block keeps the
block's input, which token merging compares tokens by (the paper's metric). Both are removed after the call.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from modules.models.speedups import hypertile as ht
from modules.models.speedups import tome
from modules.models.speedups.options import UnetPatches

MAX_DEPTH = 6


def grid_of(tokens: int, latent_hw: tuple[int, int]) -> tuple[int, int, int] | None:
    """(h, w, depth) of a layer with `tokens` tokens in a UNet whose input is latent_hw, or None if no level fits.

    >>> grid_of(4096, (64, 64)), grid_of(1024, (64, 64)), grid_of(90, (17, 19)), grid_of(77, (64, 64))
    ((64, 64, 0), (32, 32, 1), (9, 10, 1), None)
    """
    height, width = latent_hw
    for depth in range(MAX_DEPTH + 1):
        h, w = -(-height // 2 ** depth), -(-width // 2 ** depth)
        if h * w == tokens:
            return h, w, depth
    return None


@dataclass
class CallShape:
    """What the processors of one UNet call need to know about it."""

    latent_hw: tuple[int, int]
    image_size: tuple[int, int]  # (width, height) in pixels, for HyperTile's tile size


class SelfAttentionPatch:
    """The processor of one `attn1` during a patched call (diffusers calls `processor(attn, hidden_states, …)`)."""

    def __init__(self, inner, patches: UnetPatches, shape: CallShape, rng: random.Random, block_input: dict):
        self.inner, self.patches, self.shape, self.rng, self.block_input = inner, patches, shape, rng, block_input

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None,
                 temb=None, **kwargs) -> torch.Tensor:
        grid = grid_of(hidden_states.shape[1], self.shape.latent_hw) if hidden_states.ndim == 3 else None
        if grid is None or encoder_hidden_states is not None or attention_mask is not None:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kwargs)
        h, w, depth = grid
        x, metric = hidden_states, self.block_input.get("x")  # [B, h*w, C] each
        nh = nw = 1
        tiling = self.patches.hypertile
        if tiling is not None and depth <= tiling.max_depth:
            nh, nw = ht.tile_counts(h, w, depth, self.shape.image_size, tiling.max_tile, tiling.swap_size, self.rng)
        if nh * nw > 1:
            x = ht.split_tiles(x, h, w, nh, nw)  # [B*nh*nw, h*w/(nh*nw), C]
            metric = None if metric is None else ht.split_tiles(metric, h, w, nh, nw)
        plan = None
        if self.patches.token_merging_ratio > 0 and depth == 0 and metric is not None:  # A1111: max_downsample 1
            plan = tome.plan_merge(metric, h // nh, w // nw, self.patches.token_merging_ratio)
        if plan is not None:
            x = tome.merge(plan, x)  # [B', n - r, C]
        out = self.inner(attn, x, None, None, temb, **kwargs)
        if plan is not None:
            out = tome.unmerge(plan, out)
        return ht.join_tiles(out, h, w, nh, nw) if nh * nw > 1 else out


def _self_attention_blocks(unet) -> list:
    from diffusers.models.attention import BasicTransformerBlock

    return [m for m in unet.modules() if isinstance(m, BasicTransformerBlock) and not m.only_cross_attention]


@contextmanager
def patched_attention(unet, patches: UnetPatches, shape: CallShape, rng: random.Random) -> Iterator[None]:
    """Install the patch on every self-attention of `unet` inside the block; the old processors come back after,
    error or not."""
    saved, hooks = [], []
    try:
        for block in _self_attention_blocks(unet):
            seen: dict = {}

            def keep_input(module, args, kwargs, seen=seen):
                seen["x"] = args[0] if args else kwargs.get("hidden_states")

            hooks.append(block.register_forward_pre_hook(keep_input, with_kwargs=True))
            saved.append((block.attn1, block.attn1.processor))
            block.attn1.set_processor(SelfAttentionPatch(block.attn1.processor, patches, shape, rng, seen))
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for attn, processor in saved:
            attn.set_processor(processor)
