"""SDXL LoRA through whole txt2img runs: `<lora:…:0>` gives exactly the latents of a run without it, and after a run
with the LoRA every weight of every network is back to its original bits."""
from __future__ import annotations

import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_lora import lora_tensors, write_lora
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint
from tests.pipeline.conftest import make_app

# the tiny SDXL UNet's second level: cross-attention (input width 80 = CLIP-L 32 + bigG 48), projection, a conv
XL_UNET_LAYERS = ("down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k", "down_blocks.1.attentions.0.proj_in",
                  "down_blocks.0.resnets.0.conv1", "up_blocks.0.attentions.0.transformer_blocks.0.ff.net.2")
RUN = dict(negative_prompt="blue", steps=3, width=64, height=64, seed=5, sampler_name="Euler")


@pytest.fixture(scope="module")
def sdxl_file(tmp_path_factory):
    return make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("xl-lora-run") / "models" / "Stable-diffusion")


def every_weight(model) -> list[torch.Tensor]:
    return [t.detach().clone() for network in model.engine.networks() for t in network.state_dict().values()]


def test_weight_zero_is_bit_identical_and_every_weight_comes_back(tmp_path, sdxl_file):
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    model = app.models.get(None)
    write_lora(app.paths.lora_dir / "xl.safetensors",
               lora_tensors(model, te_layers=(), unet_layers=XL_UNET_LAYERS, scale=0.5))
    before = every_weight(model)
    latents = []
    decode = model.decode
    model.decode = lambda x: latents.append(x.clone()) or decode(x)
    try:
        for prompt in ("a red circle", "a red circle <lora:xl:0>", "a red circle <lora:xl:1>", "a red circle"):
            result = app.txt2img(GenerationRequest(prompt=prompt, **RUN))
            assert not [w for w in result.warnings if "xl" in w], result.warnings  # every layer found and fitting
    finally:
        del model.decode
    plain, zero, full, again = latents  # [1, 4, 8, 8] each
    assert torch.equal(zero, plain)
    assert (full - plain).abs().max() > 1e-3  # the LoRA really changes the image
    assert torch.equal(again, plain)
    assert all(torch.equal(a, b) for a, b in zip(every_weight(model), before, strict=True))  # the run unpatched
