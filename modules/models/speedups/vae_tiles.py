"""HyperTile on the VAE decoder: its mid-block attention run tile by tile, as A1111's built-in Hypertile extension
does with `hypertile_enable_vae`.

A1111 wraps the decoder's whole attention block, so the block's group norm, attention and residual all see one tile
at a time; here a processor around the layer's own one does the same (diffusers' VAE attention processors take the
[B, C, h, w] map and do the norm and the residual themselves). Only the decoder is tiled, never the encoder (A1111
hooks `decoder.mid.attn_1` alone). Tile counts come from `hypertile.tile_counts` at depth 0, two draws (rows, then
columns) per call.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from modules.models.speedups import hypertile as ht
from modules.models.speedups.options import VaeTiles


class TiledVaeAttention:
    """The processor of one VAE decoder attention while tiling is on (diffusers calls `processor(attn, x, …)`)."""

    def __init__(self, inner, tiles: VaeTiles, image_size: tuple[int, int], rng: random.Random):
        self.inner, self.tiles, self.image_size, self.rng = inner, tiles, image_size, rng

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states=None, attention_mask=None,
                 temb=None, **kwargs) -> torch.Tensor:
        """Named arguments as diffusers' processors have them: `Attention.forward` passes on only those a
        processor's signature names."""
        args = (encoder_hidden_states, attention_mask, temb)
        if hidden_states.ndim != 4 or encoder_hidden_states is not None or attention_mask is not None:
            return self.inner(attn, hidden_states, *args, **kwargs)
        h, w = hidden_states.shape[2], hidden_states.shape[3]
        nh, nw = ht.tile_counts(h, w, 0, self.image_size, self.tiles.max_tile, self.tiles.swap_size, self.rng)
        if nh * nw == 1:
            return self.inner(attn, hidden_states, *args, **kwargs)
        x = ht.split_image_tiles(hidden_states, nh, nw)  # [B*nh*nw, C, h/nh, w/nw]
        return ht.join_image_tiles(self.inner(attn, x, *args, **kwargs), nh, nw)  # [B, C, h, w]


def decoder_attentions(vae) -> list:
    """The attention layers of a diffusers `AutoencoderKL` decoder's mid block (none when it has no attention)."""
    mid = getattr(getattr(vae, "decoder", None), "mid_block", None)
    return [a for a in (getattr(mid, "attentions", None) or []) if a is not None]


@contextmanager
def tiled_decoder(vae, tiles: VaeTiles, image_size: tuple[int, int], rng: random.Random) -> Iterator[None]:
    """Tile the decoder's attention for the calls inside the block (`image_size`: the decoded picture's (width,
    height) in pixels); the old processors come back after, error or not."""
    saved = [(attn, attn.processor) for attn in decoder_attentions(vae)]
    try:
        for attn, processor in saved:
            attn.set_processor(TiledVaeAttention(processor, tiles, image_size, rng))
        yield
    finally:
        for attn, processor in saved:
            attn.set_processor(processor)
