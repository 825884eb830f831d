"""HyperTile on the VAE decoder (A1111's `hypertile_enable_vae`): the decoder's mid-block attention runs tile by
tile — the same as the stock layer run on each tile on its own — the encoder is never tiled, the tile counts follow
A1111's rule, and nothing stays patched."""
from __future__ import annotations

import random

import pytest
import torch

from modules.errors import InvalidInput
from modules.models.speedups import hypertile as ht
from modules.models.speedups.options import VaeTiles
from modules.models.speedups.vae_tiles import TiledVaeAttention, decoder_attentions, tiled_decoder
from tests.fixtures.tiny_model import tiny_models, tiny_yaml


@pytest.fixture(scope="module")
def vae():
    return tiny_models(tiny_yaml())[1]


def test_image_tiles_split_into_contiguous_blocks_and_join_back():
    x = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).reshape(2, 3, 8, 12)  # [B, C, h, w]
    tiles = ht.split_image_tiles(x, 2, 3)  # [12, 3, 4, 4]
    assert tiles.shape == (12, 3, 4, 4)
    assert torch.equal(tiles[1 * 6 + 1 * 3 + 2], x[1, :, 4:8, 8:12])  # image 1, tile row 1, tile column 2
    assert torch.equal(ht.join_image_tiles(tiles, 2, 3), x)


def test_only_the_decoders_attention_is_tiled(vae):
    layers = decoder_attentions(vae)
    assert layers == list(vae.decoder.mid_block.attentions)
    assert all(a not in layers for a in vae.encoder.mid_block.attentions)


@pytest.mark.parametrize("nh, nw", [(2, 2), (4, 2), (1, 4)])
def test_tiled_layer_equals_the_stock_layer_on_each_tile(vae, monkeypatch, nh, nw):
    layer = vae.decoder.mid_block.attentions[0]
    x = torch.randn(2, layer.group_norm.num_channels, 16, 16, generator=torch.Generator().manual_seed(1))
    th, tw = 16 // nh, 16 // nw
    with torch.no_grad():
        expected = torch.empty_like(x)  # [B, C, h, w]
        for i in range(nh):
            for j in range(nw):
                rows, cols = slice(i * th, (i + 1) * th), slice(j * tw, (j + 1) * tw)
                tile = x[:, :, rows, cols].contiguous()  # [B, C, th, tw]
                expected[:, :, rows, cols] = layer(tile)  # norm, attention and residual on the tile alone
        whole = layer(x)
        monkeypatch.setattr(ht, "tile_counts", lambda *args: (nh, nw))
        with tiled_decoder(vae, VaeTiles(), (128, 128), random.Random(0)):
            out = layer(x)
    assert torch.allclose(out, expected, atol=1e-5)
    assert not torch.allclose(out, whole, atol=1e-3)  # tiling does change the layer


class Recorder:
    """An inner processor that records the shapes it is called with and returns its input."""

    def __init__(self):
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        self.shapes.append(tuple(hidden_states.shape))
        return hidden_states


@pytest.mark.parametrize("image, tiles, expected", [
    ((512, 512), VaeTiles(swap_size=1), (16, 32, 16, 16)),  # 128-pixel tiles: 4 × 4 of 16 latent pixels
    ((512, 512), VaeTiles(max_tile=256, swap_size=1), (4, 32, 32, 32)),  # 256-pixel tiles: 2 × 2
    ((512, 768), VaeTiles(max_tile=512, swap_size=1), (6, 32, 32, 32)),  # 256: the largest power of two dividing both
    ((256, 256), VaeTiles(max_tile=0, swap_size=1), (4, 32, 16, 16)),  # tiles are never under 128 pixels
    ((120, 120), VaeTiles(swap_size=1), (1, 32, 15, 15)),  # too small to cut
])
def test_tile_counts_follow_a1111s_rule(image, tiles, expected):
    recorder = Recorder()
    x = torch.zeros(1, 32, image[1] // 8, image[0] // 8)  # [1, C, h, w]
    out = TiledVaeAttention(recorder, tiles, image, random.Random(0))(None, x)
    assert recorder.shapes == [expected] and torch.equal(out, x)


def test_the_draw_is_seeded_and_varies_among_swap_size_choices():
    def draws(seed):
        recorder = Recorder()
        processor = TiledVaeAttention(recorder, VaeTiles(), (512, 512), random.Random(seed))
        for _ in range(12):
            processor(None, torch.zeros(1, 8, 64, 64))
        return [s[0] for s in recorder.shapes]  # tiles per call

    assert draws(7) == draws(7)
    assert set(draws(7)) <= {1, 2, 4, 8, 16} and len(set(draws(7))) > 1


def test_processors_come_back_after_an_error(vae):
    before = [a.processor for a in decoder_attentions(vae)]
    with pytest.raises(RuntimeError, match="boom"):
        with tiled_decoder(vae, VaeTiles(), (256, 256), random.Random(0)):
            assert all(isinstance(a.processor, TiledVaeAttention) for a in decoder_attentions(vae))
            raise RuntimeError("boom")
    assert [a.processor for a in decoder_attentions(vae)] == before


@pytest.mark.parametrize("field, value", [("max_depth", 4), ("max_tile", 513), ("swap_size", -1)])
def test_out_of_range_values_are_refused_naming_the_setting(field, value):
    with pytest.raises(InvalidInput, match=f"hypertile_{field}_vae"):
        VaeTiles(**{field: value})
