"""ldm's `diffusion_model.input_blocks` / `output_blocks`: a module put in a slot is called by the UNet with ldm's
(h, emb, context) in place of that block, the block's own view runs the block, and putting the view back restores
the UNet (sd-webui-kohya-hiresfix shrinks the latent before an input block and grows it after the matching output
block for the first steps)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.probe_scripts import probe_extension, probe_module

BASE: dict[str, Any] = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=4,
            sampler_name="Euler", cfg_scale=6.0)

SCRIPT = '''
import torch
from modules import scripts

MODE = ["off"]
SEEN = []


class Resize(torch.nn.Module):
    def __init__(self, scale, block):
        super().__init__()
        self.scale, self.block = scale, block

    def forward(self, x, *args):
        SEEN.append((self.scale, tuple(x.shape[-2:]), len(args)))
        if MODE[0] == "resize":
            x = torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        return self.block(x, *args)


class Script(scripts.Script):
    def title(self):
        return "block probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        if MODE[0] == "off":
            return
        unet = p.sd_model.model.diffusion_model
        unet.input_blocks[0] = Resize(0.5, unet.input_blocks[0])
        unet.output_blocks[-1] = Resize(2.0, unet.output_blocks[-1])

    def postprocess(self, p, processed, *args):
        unet = p.sd_model.model.diffusion_model
        for blocks in (unet.input_blocks, unet.output_blocks):
            for i, block in enumerate(blocks):
                if isinstance(block, Resize):
                    blocks[i] = block.block
'''


@pytest.fixture(scope="module")
def block_app(tmp_path_factory, tiny_checkpoint):
    with probe_extension(tmp_path_factory.mktemp("unet_blocks"), tiny_checkpoint, "block_probe", SCRIPT) as app:
        yield app


def run(app, mode: str):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    mod = probe_module("block_probe")
    mod.MODE[0], mod.SEEN[:] = mode, []
    try:
        result = app.txt2img(GenerationRequest(**BASE))
    finally:
        mod.MODE[0] = "off"
    assert FAILURES.failures == []
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16), list(mod.SEEN)


def test_a_module_in_a_slot_runs_in_place_of_the_block(block_app):
    plain, _ = run(block_app, "off")
    same, seen = run(block_app, "watch")
    # each model call: the first input block (emb and context passed), then the last output block
    assert len(seen) == 2 * BASE["steps"] and all(n == 2 for _, _, n in seen)
    assert np.abs(same - plain).max() <= 2  # the block views run their blocks
    resized, seen = run(block_app, "resize")
    # the first input block sees the latent, the last output block what the shrunk latent became in the UNet
    assert seen[1][1] == tuple(n // 2 for n in seen[0][1])
    assert np.abs(resized - plain).max() > 2
    after, _ = run(block_app, "off")  # postprocess put the blocks back
    assert np.abs(after - plain).max() <= 2


def test_the_block_lists_follow_ldms_layout(block_app):
    from modules import shared

    block_app.txt2img(GenerationRequest(**BASE))
    unet = shared.sd_model.model.diffusion_model
    diffusers = block_app.services.models.current.unet
    downs = sum(len(b.resnets) + len(b.downsamplers or []) for b in diffusers.down_blocks)
    assert len(unet.input_blocks) == 1 + downs
    assert len(unet.output_blocks) == sum(len(b.resnets) for b in diffusers.up_blocks)
    assert unet.input_blocks[0][0] is diffusers.conv_in
    assert unet.output_blocks[-1][0] is diffusers.up_blocks[-1].resnets[-1]
    assert list(unet.input_blocks) == [unet.input_blocks[i] for i in range(len(unet.input_blocks))]
