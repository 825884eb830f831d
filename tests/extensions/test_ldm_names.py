"""`ldm.*`, the Stable Diffusion repository A1111 put on sys.path: its helpers (ldm.util, the diffusion building
blocks) work, `shared.sd_model.cond_stage_model.wrapped` is a FrozenCLIPEmbedder over the loaded SD 1.x CLIP (the
tokenizer extension reads its vocabulary), and its model code is absent with a reason rather than silently inert."""
from __future__ import annotations

import importlib
import math
from types import ModuleType

import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


def a1111(name: str) -> ModuleType:
    """A module of A1111's world (ldm.*, networks, lora): the compat layer makes it importable at run time only."""
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def loaded_app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("ldm"), tiny_checkpoint, "--nowebui")
    start(app, [])
    app.txt2img(GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=1))  # loads the model
    yield app
    app.jobs.close()
    stop(app)


def test_ldm_helpers(loaded_app):
    util = a1111("ldm.modules.diffusionmodules.util")
    conv_nd, make_beta_schedule, timestep_embedding, zero_module = (
        util.conv_nd, util.make_beta_schedule, util.timestep_embedding, util.zero_module)
    ldm_util = a1111("ldm.util")
    default, instantiate_from_config = ldm_util.default, ldm_util.instantiate_from_config

    made = instantiate_from_config({"target": "torch.nn.Linear", "params": {"in_features": 2, "out_features": 3}})
    assert isinstance(made, torch.nn.Linear) and made.out_features == 3
    assert default(None, lambda: 5) == 5 and default(0, 5) == 0
    emb = timestep_embedding(torch.tensor([0, 10]), 6)
    assert emb.shape == (2, 6)
    assert emb[1, 0].item() == pytest.approx(math.cos(10.0)) and emb[1, 3].item() == pytest.approx(math.sin(10.0))
    assert emb[1, 1].item() == pytest.approx(math.cos(10.0 * 10000 ** (-1 / 3)), abs=1e-5)
    conv = zero_module(conv_nd(2, 4, 4, 3, padding=1))
    assert isinstance(conv, torch.nn.Conv2d) and not conv.weight.any()
    betas = make_beta_schedule("linear", 1000, 0.00085, 0.012)
    assert betas.shape == (1000,) and betas[0] == pytest.approx(0.00085) and betas[-1] == pytest.approx(0.012)


def test_cond_stage_model_wraps_the_loaded_clip(loaded_app):
    encoders = a1111("ldm.modules.encoders.modules")
    FrozenCLIPEmbedder, FrozenOpenCLIPEmbedder = encoders.FrozenCLIPEmbedder, encoders.FrozenOpenCLIPEmbedder
    from modules import shared

    cond = shared.sd_model.cond_stage_model
    clip = cond.wrapped
    assert isinstance(clip, FrozenCLIPEmbedder) and not isinstance(clip, FrozenOpenCLIPEmbedder)
    model = loaded_app.services.models.current
    assert clip.tokenizer is model.tokenizer and clip.transformer is model.text_encoder
    ids = cond.tokenize(["a red circle"])[0]
    assert ids and cond.id_start not in ids and cond.id_end not in ids
    vocab = {v: k for k, v in clip.tokenizer.get_vocab().items()}
    assert "".join(vocab[i] for i in ids).replace("</w>", " ").strip() == "a red circle"
    hidden = clip("a red circle")
    assert hidden.shape == (1, 77, model.text_encoder.config.hidden_size)
    with pytest.raises(RuntimeError, match="Hugging Face CLIP"):
        FrozenOpenCLIPEmbedder()


def test_ldm_model_code_is_absent_with_a_reason(loaded_app):
    attention = a1111("ldm.modules.attention")

    with pytest.raises(AttributeError, match="diffusers classes"):
        _ = attention.CrossAttention
    ddpm = a1111("ldm.models.diffusion.ddpm")

    with pytest.raises(AttributeError, match="ldm.models.diffusion.ddpm.DiffusionWrapper"):
        _ = ddpm.DiffusionWrapper  # the class names only (tests/extensions/test_inner_model.py)


def test_networks_lists_the_lora_files(loaded_app):
    """`import networks` (A1111's built-in Lora extension): old-sd-firstpasser looks LoRAs up by name and alias."""
    networks = a1111("networks")

    from tests.fixtures.tiny_lora import lora_tensors, write_lora

    model = loaded_app.models.get(None)
    write_lora(loaded_app.services.loras.folder / "grain.safetensors", lora_tensors(model, seed=1),
               metadata={"ss_output_name": "grainy", "ss_base_model_version": "sd_v1"})
    networks.list_available_networks()
    row = networks.available_networks["grain"]
    assert row.filename.endswith("grain.safetensors") and row.alias == "grainy" and row.is_safetensors
    assert networks.available_network_aliases["grainy"] is not None and row.sd_version == networks.SdVersion.SD1
    assert row.get_alias() == "grainy"
    with pytest.raises(AttributeError, match="applies LoRA itself"):
        _ = networks.load_networks
    lora = a1111("lora")  # the older names beside networks (sd-webui-supermerger imports them)

    assert lora.available_loras["grain"].alias == "grainy" and "grainy" in lora.available_lora_aliases


def test_loaded_networks_are_the_loras_of_the_last_generation(loaded_app):
    """sd-webui-regional-prompter reads `lora.loaded_loras` (= `networks.loaded_networks`) after a generation and
    clears it; Easel lists what it patched in, and clearing that list changes nothing."""
    lora, networks = a1111("lora"), a1111("networks")

    from tests.fixtures.tiny_lora import lora_tensors, write_lora

    model = loaded_app.models.get(None)
    write_lora(loaded_app.services.loras.folder / "speck.safetensors", lora_tensors(model, seed=2))
    networks.list_available_networks()
    loaded_app.txt2img(GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=1))
    assert networks.loaded_networks == []
    loaded_app.txt2img(GenerationRequest(prompt="a red circle <lora:speck:0.7>", steps=1, width=64, height=64,
                                         seed=1))
    [net] = networks.loaded_networks
    assert (net.name, net.mentioned_name, net.te_multiplier, net.unet_multiplier) == ("speck", "speck", 0.7, 0.7)
    assert net.network_on_disk.filename.endswith("speck.safetensors") and net.bundle_embeddings == {}
    lora.loaded_loras.clear()
    assert [n.name for n in lora.loaded_loras] == ["speck"]
    with pytest.raises(AttributeError, match="applies LoRA itself"):
        _ = networks.load_network
