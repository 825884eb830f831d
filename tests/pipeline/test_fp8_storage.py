"""FP8 weights through whole jobs on the tiny model: the setting loads the model with FP8 layers (and back),
writes A1111's infotext entries, leaves "Enable for SDXL" alone on an SD 1 model, and LoRAs patch and restore
FP8 layers exactly."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from modules.errors import InvalidInput
from modules.models.fp8 import FP8, is_fp8
from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_lora import lora_tensors, write_lora

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=5,
            sampler_name="Euler")


def run(app, prompt="a red circle", **overrides):
    return app.txt2img(GenerationRequest(**{**BASE, "prompt": prompt}, override_settings=overrides))


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0], dtype=np.int16)


def fp8_layers(model) -> list:
    return [m for net in (model.unet, model.text_encoder) for m in net.modules() if is_fp8(m)]


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.uint8) if t.dtype == FP8 else t


def test_enable_loads_fp8_layers_and_disable_loads_the_full_model_again(app):
    plain = run(app)
    full_bytes = app.models.get(None).memory_bytes()
    fp8 = run(app, fp8_storage="Enable")
    model = app.models.get(None)
    layers = fp8_layers(model)
    assert len(layers) > 20 and all(m.weight.dtype == FP8 for m in layers)
    assert all(m.bias.dtype == FP8 for m in layers if m.bias is not None)
    assert not any(is_fp8(m) for m in model.vae.modules())  # the VAE keeps its precision, as in A1111
    width = torch.empty(0, dtype=model.engine.dtype).element_size()  # bytes per weight before
    stored = sum(p.numel() for m in layers for p in m.parameters())
    assert full_bytes - model.memory_bytes() == stored * (width - 1)  # one byte per weight now
    assert "Model: tiny-sd1-0, FP8 weight: Enable, Cache FP16 weight for LoRA: False, " in fp8.infotexts[0]
    assert np.abs(pixels(fp8) - pixels(plain)).mean() < 20  # the same picture, from rounded weights
    again = run(app)
    assert fp8_layers(app.models.get(None)) == [] and np.array_equal(pixels(again), pixels(plain))
    assert "FP8 weight" not in again.infotexts[0]


def test_enable_for_sdxl_leaves_an_sd1_model_as_it_is(app):
    plain = run(app)
    sdxl_only = run(app, fp8_storage="Enable for SDXL", cache_fp16_weight=True)
    assert fp8_layers(app.models.get(None)) == []
    assert np.array_equal(pixels(sdxl_only), pixels(plain)) and "FP8" not in sdxl_only.infotexts[0]


@pytest.mark.parametrize("copy", [False, True])
def test_loras_patch_fp8_layers_and_restore_them_bit_for_bit(app, copy):
    model = app.models.get(None)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(model, seed=1, scale=0.5))
    settings = {"fp8_storage": "Enable", "cache_fp16_weight": copy}
    plain = run(app, **settings)
    model = app.models.get(None)
    before = {id(m): bits(m.weight).clone() for m in fp8_layers(model)}
    with_lora = run(app, "a red circle <lora:grain:1>", **settings)
    assert not np.array_equal(pixels(plain), pixels(with_lora))
    assert f"Cache FP16 weight for LoRA: {copy}" in with_lora.infotexts[0]
    app.models.restore_weights(model)
    assert all(torch.equal(bits(m.weight), before[id(m)]) for m in fp8_layers(model))
    assert np.array_equal(pixels(run(app, **settings)), pixels(plain))


def test_the_lora_lands_on_the_kept_copy(app):
    """With the 16-bit copy, a patched FP8 weight is the copy plus the LoRA's delta, rounded once."""
    from modules.models.lora import parse_lora

    model = app.models.get(None)
    tensors = lora_tensors(model, seed=1, scale=0.5)
    write_lora(app.services.loras.folder / "grain.safetensors", tensors)
    run(app, fp8_storage="Enable", cache_fp16_weight=True)
    model = app.models.get(None)
    network = app.services.loras.load(app.services.loras.find("grain"))
    app.models.apply_loras(model, [(network, 1.0, 1.0)])
    table = model.lora_module_map()
    checked = 0
    for key, layer in parse_lora(tensors, "grain").items():
        module = table[key][1]
        expected = (module.lora_base.float() + layer.delta(module.weight.shape) * layer.scale).to(FP8)
        assert torch.equal(bits(module.weight), bits(expected)), key
        checked += 1
    app.models.restore_weights(model)
    assert checked > 5


def test_an_unknown_mode_is_refused_naming_the_setting(app):
    with pytest.raises(InvalidInput, match="fp8_storage"):
        run(app, fp8_storage="Sometimes")
