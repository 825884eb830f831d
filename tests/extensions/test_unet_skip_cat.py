"""`modules.sd_hijack_unet.th`: ldm's UNet joined each output block's input with `th.cat([h, skip], dim=1)`, and
extensions replace `th.cat` to change the two halves (sd-webui-freeu). Easel's diffusers UNet joins them inside its
up blocks; once an extension has taken `th`, every join of a generation goes through the replacement."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.probe_scripts import probe_extension, probe_module

BASE: dict[str, Any] = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=9,
            sampler_name="Euler", cfg_scale=6.0)

SCRIPT = '''
import functools
from modules import scripts
from modules.sd_hijack_unet import th

MODE = ["off"]
SEEN = []


def join(tensors, *args, original, **kwargs):
    if MODE[0] == "off":
        return original(tensors, *args, **kwargs)
    h, skip = tensors
    SEEN.append((h.shape[1], skip.shape[1], tuple(h.shape[-2:]) == tuple(skip.shape[-2:]), dict(kwargs)))
    if MODE[0] == "quiet skips":
        skip = skip * 0.5
    return original([h, skip], *args, **kwargs)


th.cat = functools.partial(join, original=th.cat)


class Script(scripts.Script):
    def title(self):
        return "skip probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible
'''


@pytest.fixture(scope="module")
def skip_app(tmp_path_factory, tiny_checkpoint):
    with probe_extension(tmp_path_factory.mktemp("skip_cat"), tiny_checkpoint, "skip_probe", SCRIPT) as app:
        yield app


def run(app, mode: str):

    mod = probe_module("skip_probe")
    mod.MODE[0], mod.SEEN[:] = mode, []
    try:
        result = app.txt2img(GenerationRequest(**BASE))
    finally:
        mod.MODE[0] = "off"
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16), list(mod.SEEN)


def test_every_skip_join_of_the_unet_goes_through_th_cat(skip_app):
    plain, _ = run(skip_app, "off")
    same, seen = run(skip_app, "watch")
    unet = skip_app.services.models.current.unet
    joins = sum(len(block.resnets) for block in unet.up_blocks)
    assert len(seen) == joins * BASE["steps"]  # one model call per Euler step, cond and uncond rows together
    resnets = [r for block in unet.up_blocks for r in block.resnets]
    for (backbone, skip, same_size, kwargs), resnet in zip(seen, resnets):
        assert backbone + skip == resnet.in_channels and same_size and kwargs == {"dim": 1}
    assert np.abs(same - plain).max() <= 2  # the join itself is unchanged


def test_what_the_replacement_returns_is_what_the_up_block_gets(skip_app):
    plain, _ = run(skip_app, "off")
    quiet, _ = run(skip_app, "quiet skips")
    assert np.abs(quiet - plain).max() > 2


def test_th_reads_as_torch_and_its_cat_resizes_h_to_the_skip():
    import torch

    from modules.extensions.compat.sd_hijack_unet import TorchHijackForUnet

    th = TorchHijackForUnet()
    assert th.zeros is torch.zeros
    joined = th.cat([torch.ones(1, 2, 4, 4), torch.zeros(1, 3, 8, 8)], dim=1)  # h upsampled to 8x8
    assert joined.shape == (1, 5, 8, 8) and bool((joined[:, :2] == 1).all())
