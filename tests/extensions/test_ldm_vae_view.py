"""`shared.sd_model.first_stage_model`: the loaded VAE's encoder and decoder in ldm's layout (what Tiled VAE walks to
run the decoder tile by tile), over the diffusers VAE's own layers; a `forward` set on them is what the VAE calls."""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.extensions.probe_scripts import probe_extension, probe_module

BASE: dict[str, Any] = dict(prompt="a red circle", steps=2, width=64, height=64, seed=3, sampler_name="Euler")

SCRIPT = '''
from modules import scripts

MODE = ["off"]
SEEN = []


class Decode:
    def __init__(self, net):
        self.net = net

    def __call__(self, z):
        SEEN.append(tuple(z.shape))
        out = self.net.original_forward(z)
        return out * 0 - 1 if MODE[0] == "black" else out


class Script(scripts.Script):
    def title(self):
        return "decoder probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        if MODE[0] == "off":
            return
        decoder = p.sd_model.first_stage_model.decoder
        if not hasattr(decoder, "original_forward"):
            decoder.original_forward = decoder.forward
        decoder.forward = Decode(decoder)

    def postprocess(self, p, processed, *args):
        decoder = p.sd_model.first_stage_model.decoder
        if isinstance(decoder.forward, Decode):
            decoder.forward = decoder.original_forward
'''


@pytest.fixture(scope="module")
def vae_app(tmp_path_factory, tiny_checkpoint):
    with probe_extension(tmp_path_factory.mktemp("vae_view"), tiny_checkpoint, "decoder_probe", SCRIPT) as app:
        app.txt2img(GenerationRequest(**BASE))  # a loaded model
        yield app


def run(app, mode: str):

    mod = probe_module("decoder_probe")
    mod.MODE[0], mod.SEEN[:] = mode, []
    try:
        result = app.txt2img(GenerationRequest(**BASE))
    finally:
        mod.MODE[0] = "off"
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16), list(mod.SEEN)


def test_a_replaced_decoder_forward_decodes_the_generation(vae_app):
    plain, _ = run(vae_app, "off")
    same, seen = run(vae_app, "watch")
    assert len(seen) == 1 and seen[0][0] == 1  # the image's latent, once
    assert np.abs(same - plain).max() <= 2
    black, _ = run(vae_app, "black")
    assert black.max() == 0
    again, _ = run(vae_app, "off")  # postprocess put the decoder's own forward back
    assert np.abs(again - plain).max() <= 2


def test_the_ldm_layout_runs_the_same_decoder(vae_app):
    """The decoder rebuilt step by step from ldm's names equals the diffusers decoder."""
    from modules import shared

    model = importlib.import_module("ldm.modules.diffusionmodules.model")
    decoder = shared.sd_model.first_stage_model.decoder
    assert isinstance(decoder, model.Decoder) and isinstance(decoder.mid.attn_1, model.AttnBlock)
    parameter = next(decoder.parameters())
    z = torch.randn(1, decoder.conv_in.in_channels, 6, 6, generator=torch.Generator().manual_seed(1)).to(parameter)
    with torch.no_grad():
        h = decoder.conv_in(z)
        h = decoder.mid.block_2(decoder.mid.attn_1(decoder.mid.block_1(h)))
        for level in reversed(range(decoder.num_resolutions)):
            assert len(decoder.up[level].block) == decoder.num_res_blocks + 1
            for block in decoder.up[level].block:
                h = block(h)
            if level != 0:
                h = decoder.up[level].upsample(h)
        h = decoder.conv_out(torch.nn.functional.silu(decoder.norm_out(h)))
        assert torch.allclose(h, decoder.original_forward(z) if hasattr(decoder, "original_forward")
                              else decoder.forward(z), atol=1e-3, rtol=1e-3)


def test_attention_parts_are_ldm_convolutions_over_the_layer_weights(vae_app):
    from modules import shared

    from diffusers.models.attention_processor import Attention

    model = importlib.import_module("ldm.modules.diffusionmodules.model")
    assert isinstance(shared.sd_model.first_stage_model.decoder.mid.attn_1.inner, Attention)
    torch.manual_seed(0)  # a float32 layer built as the VAE's middle attention: the check is the maths, not rounding
    attn = model.AttnBlock(Attention(64, heads=1, dim_head=64, norm_num_groups=32, residual_connection=True,
                                     bias=True, upcast_softmax=True, _from_deprecated_attn_block=True))
    x = torch.randn(1, attn.in_channels, 3, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        h = attn.norm(x)
        q, k, v = (part(h).flatten(2) for part in (attn.q, attn.k, attn.v))  # [B, C, HW]
        weights = torch.softmax(q.transpose(1, 2) @ k / attn.in_channels ** 0.5, dim=-1)  # [B, HW, HW]
        out = attn.proj_out((v @ weights.transpose(1, 2)).reshape(x.shape))
        assert torch.allclose(x + out, attn(x), atol=1e-3, rtol=1e-3)


def test_the_encoder_layout_and_what_the_view_does_not_have(vae_app):
    from modules import shared

    vae = shared.sd_model.first_stage_model
    encoder = vae.encoder
    assert len(encoder.down) == encoder.num_resolutions and encoder.down[-1].downsample is None
    assert all(level.downsample is not None for level in encoder.down[:-1])
    assert encoder.to(vae.device) is not None and isinstance(encoder.to(vae.device), type(encoder))
    with pytest.raises(AttributeError, match="diffusers"):
        _ = vae.decode_first_stage
