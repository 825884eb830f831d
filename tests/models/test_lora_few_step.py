"""Few-step LoRAs (LCM-LoRA, TCD-LoRA, Hyper-SD, SDXL-Lightning) in the key spellings they circulate in, with random
weights: every layer they adapt is patched exactly; a LoRA of another family is refused before any weight changes."""
from __future__ import annotations

import pytest
import torch

from modules.errors import InvalidInput
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.lora_family import family_problem
from modules.models.lora_library import LoraLibrary
from modules.models.manager import ModelManager
from modules.paths import Paths
from tests.fixtures.tiny_lora import kohya_name, lora_tensors, write_lora
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
# The UNet modules LCM-LoRA / TCD-LoRA train (the diffusers distillation scripts' target list)
LCM_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2", "conv1",
               "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj")
RANK = 4


def manager_for(checkpoint):
    paths = Paths(data_dir=checkpoint.parents[2])
    return ModelManager(paths, FP32, HashCache(paths.cache_json))


@pytest.fixture(scope="module")
def sd1(tiny_checkpoint):
    manager = manager_for(tiny_checkpoint)
    return manager, manager.get()


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    manager = manager_for(make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("xl") / "models" / "Stable-diffusion"))
    return manager, manager.get()


def unet_layers(model, every: bool = False) -> list[str]:
    """UNet Linear/Conv2d module paths: LCM's targets, or every one (Hyper-SD/Lightning adapt the time embeddings
    and the convolutions in and out as well)."""
    return [name for name, m in model.unet.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
            and (every or any(name.endswith(t) for t in LCM_TARGETS))]


def pairs(model, layers, seed=0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name in layers:
        out_ch, in_ch, *kernel = model.unet.get_submodule(name).weight.shape
        down = torch.randn(RANK, in_ch, *kernel, generator=generator) * 0.1  # [r, in(, k, k)]
        up = torch.randn(out_ch, RANK, *([1, 1] if kernel else []), generator=generator) * 0.1  # [out, r(, 1, 1)]
        out[name] = (down, up)
    return out


def spelled(model, layers, spelling: str, alpha: float | None) -> dict[str, torch.Tensor]:
    """One LoRA in one of the published spellings: kohya (LDM or diffusers module names, `.alpha`), kohya names
    with PEFT's lora_A/lora_B, diffusers' `unet.….lora.down.weight`, PEFT's `unet.….lora_A.weight`."""
    tensors = {}
    for name, (down, up) in layers.items():
        if spelling.startswith("kohya"):
            key = kohya_name(model, name, "unet", "ldm" if spelling.endswith("ldm") else "diffusers")
            parts = ("lora_A", "lora_B") if spelling == "kohya_peft_parts" else ("lora_down", "lora_up")
            tensors[f"{key}.{parts[0]}.weight"], tensors[f"{key}.{parts[1]}.weight"] = down, up
            if alpha is not None:
                tensors[f"{key}.alpha"] = torch.tensor(alpha)
        else:
            parts = ("lora.down", "lora.up") if spelling == "diffusers" else ("lora_A", "lora_B")
            tensors[f"unet.{name}.{parts[0]}.weight"], tensors[f"unet.{name}.{parts[1]}.weight"] = down, up
    return tensors


def load(tmp_path, name, tensors):
    write_lora(tmp_path / "Lora" / f"{name}.safetensors", tensors)
    library = LoraLibrary(tmp_path / "Lora")
    return library.load(library.find(name))


def check_patched_exactly(manager, model, network, layers, scale):
    before = {name: model.unet.get_submodule(name).weight.detach().clone() for name in layers}
    try:
        warnings = manager.apply_loras(model, [(network, 1.0, 1.0)])
        assert warnings == []
        for name, (down, up) in layers.items():
            weight = model.unet.get_submodule(name).weight
            delta = (up.flatten(1) @ down.flatten(1)).reshape(weight.shape) * scale  # [out, in(, k, k)]
            assert torch.allclose(weight, before[name] + delta, atol=1e-6), name
    finally:
        manager.restore_weights(model)
    assert all(torch.equal(model.unet.get_submodule(n).weight, w) for n, w in before.items())


@pytest.mark.parametrize("spelling,alpha", [("kohya_diffusers", RANK / 2), ("kohya_ldm", RANK / 2),
                                            ("kohya_peft_parts", RANK / 2), ("diffusers", None), ("peft", None)])
def test_an_lcm_lora_shaped_file_patches_every_target_layer(tmp_path, sd1, spelling, alpha):
    manager, model = sd1
    layers = pairs(model, unet_layers(model))
    assert len(layers) > 30 and any("time_emb_proj" in n for n in layers) and any("downsamplers" in n for n in layers)
    network = load(tmp_path, "lcm-lora-sd15", spelled(model, layers, spelling, alpha))
    assert len(network.layers) == len(layers)
    check_patched_exactly(manager, model, network, layers, 1.0 if alpha is None else alpha / RANK)


@pytest.mark.parametrize("spelling", ["kohya_ldm", "kohya_diffusers"])
def test_an_sdxl_lightning_or_hyper_sd_shaped_file_patches_every_unet_layer(tmp_path, sdxl, spelling):
    manager, model = sdxl
    layers = pairs(model, unet_layers(model, every=True), seed=1)
    assert any(n.startswith("add_embedding") for n in layers) and any(n.startswith("time_embedding") for n in layers)
    network = load(tmp_path, f"sdxl_lightning_4step_lora_{spelling}", spelled(model, layers, spelling, float(RANK)))
    check_patched_exactly(manager, model, network, layers, 1.0)


def test_an_sd1_lora_on_sdxl_is_refused_naming_the_file_and_both_families(tmp_path, sd1, sdxl):
    sd1_model = sd1[1]
    network = load(tmp_path, "lcm-lora-sdv1-5", spelled(sd1_model, pairs(sd1_model, unet_layers(sd1_model)),
                                                        "kohya_diffusers", RANK))
    manager, model = sdxl
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    with pytest.raises(InvalidInput) as error:
        manager.apply_loras(model, [(network, 1.0, 1.0)])
    message = str(error.value)
    assert error.value.field == "prompt" and "lcm-lora-sdv1-5.safetensors" in message
    assert "cross-attention width 32" in message and "the loaded model is" in message and "(80)" in message
    assert all(torch.equal(v, before[k]) for k, v in model.unet.state_dict().items())
    assert manager.text_weights_key(model) == ""


def test_an_sdxl_lora_on_sd1_is_refused_and_a_zero_weight_one_is_not(tmp_path, sd1, sdxl):
    xl_model = sdxl[1]
    tensors = spelled(xl_model, pairs(xl_model, unet_layers(xl_model)), "kohya_ldm", RANK)
    network = load(tmp_path, "lcm-lora-sdxl", tensors)
    manager, model = sd1
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    with pytest.raises(InvalidInput, match=r"lcm-lora-sdxl\.safetensors\) was made for .*width 80.*\(32\)"):
        manager.apply_loras(model, [(network, 1.0, 1.0)])
    assert all(torch.equal(v, before[k]) for k, v in model.unet.state_dict().items())
    manager.apply_loras(model, [(network, 0.0, 0.0)])  # <lora:…:0> asks for nothing: nothing to refuse
    assert all(torch.equal(v, before[k]) for k, v in model.unet.state_dict().items())
    manager.restore_weights(model)


def test_text_encoder_layers_of_a_second_encoder_are_refused_on_a_one_encoder_model(tmp_path, sd1):
    manager, model = sd1
    tensors = lora_tensors(model, te_layers=("encoder.layers.0.self_attn.q_proj",), unet_layers=())
    tensors = {k.replace("lora_te_", "lora_te2_"): v for k, v in tensors.items()}
    network = load(tmp_path, "xl-text-only", tensors)
    with pytest.raises(InvalidInput, match="second text encoder"):
        manager.apply_loras(model, [(network, 1.0, 1.0)])


@pytest.mark.parametrize("made,have,words", [(768, 2048, ("SD 1.x", "SDXL")), (2048, 768, ("SDXL", "SD 1.x")),
                                             (768, 1024, ("SD 1.x", "SD 2.x")), (2048, 1280, ("SDXL", "refiner"))])
def test_real_family_widths_are_named(made, have, words):
    problem = family_problem(["lora_unet_a_attn2_to_v"], {made}, ["lora_unet_a_attn2_to_v"], {have})
    assert problem is not None and problem.index(words[0]) < problem.index(words[1])
