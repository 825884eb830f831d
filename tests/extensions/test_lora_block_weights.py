"""What sd-webui-lora-block-weight does through A1111's `networks` module, done by a small probe on a tiny LoRA:
after the batch's LoRAs are activated, `networks.loaded_networks` holds them with A1111's per-layer objects under
A1111's layer names (`diffusion_model_input_blocks_…`, `transformer_text_model_…`); scaling one layer's
`up_model.weight` and setting a network's multipliers there changes the weights the batch samples with, as A1111's
layers (which re-read the loaded networks at their next forward) do. `after_extra_networks_activate` gets the
batch's tags in `extra_network_data` and its prompts without them."""
from __future__ import annotations

import textwrap

import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of, start, stop
from tests.fixtures.tiny_lora import TE_LAYERS, UNET_LAYERS, lora_tensors, write_lora
from tests.pipeline.conftest import make_app

PROBE = '''
import torch
import networks
from modules import script_callbacks, scripts, shared

SEEN = {}
BLOCK = "diffusion_model_input_blocks_"  # the first UNet blocks, as A1111 names their layers


def stop_lora(params):
    """A LoRA's `stop=` step: from that sampling step on its UNet multiplier is 0."""
    if "stop_at" in SEEN and params.sampling_step >= SEEN["stop_at"]:
        for net in networks.loaded_networks:
            net.unet_multiplier = 0.0


def record(params):
    if "stop_at" in SEEN:
        SEEN["per_step"].append(shared.sd_model.unet.get_submodule(SEEN["layers"][0]).weight.detach().clone())


script_callbacks.on_cfg_denoiser(stop_lora)
script_callbacks.on_cfg_denoised(record)


class Script(scripts.Script):
    def title(self):
        return "block weight probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return []

    def after_extra_networks_activate(self, p, *args, **kwargs):
        SEEN["tags"] = {k: [list(x.items) for x in v] for k, v in kwargs["extra_network_data"].items()}
        SEEN["prompts"] = list(kwargs["prompts"])
        for net in networks.loaded_networks:
            SEEN["keys"] = sorted(net.modules)
            SEEN["kinds"] = sorted({type(m).__name__ for m in net.modules.values()})
            for key, module in net.modules.items():
                if BLOCK in key:
                    module.up_model.weight = torch.nn.Parameter(module.up_model.weight * 0)
            net.te_multiplier = 0.0

    def process_batch(self, p, *args, **kwargs):
        if "layers" not in SEEN:  # the run that loads the model
            return
        unet = shared.sd_model.unet
        SEEN["weights"] = {name: unet.get_submodule(name).weight.detach().clone() for name in SEEN["layers"]}
        SEEN["te"] = shared.sd_model.text_encoder.get_submodule(SEEN["te_layer"]).weight.detach().clone()
'''


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("lbw")
    folder = root / "probe"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    app = make_app(root / "data", tiny_checkpoint, "--nowebui")
    host = start(app, [("probe", folder)])
    app.txt2img(GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=1))  # loads the model
    model = app.models.get(None)
    write_lora(app.services.loras.folder / "blocky.safetensors", lora_tensors(model, seed=3))
    yield app, module_of(host, "block weight probe"), model
    app.jobs.close()
    stop(app)


def test_block_weights_change_the_weights_the_batch_samples_with(probe_app):
    app, probe, model = probe_app
    into_in_block, into_out_block = UNET_LAYERS[0], UNET_LAYERS[3]  # down_blocks.0… (IN01), up_blocks.1… (OUT)
    te_layer = TE_LAYERS[0]
    originals = {name: model.unet.get_submodule(name).weight.detach().clone() for name in (into_in_block,
                                                                                         into_out_block)}
    te_original = model.text_encoder.get_submodule(te_layer).weight.detach().clone()
    probe.SEEN.update(layers=list(originals), te_layer=te_layer)
    app.txt2img(GenerationRequest(prompt="a red circle <lora:blocky:1:1:lbw=OUTS>", steps=1, width=64, height=64,
                                  seed=1))
    seen = probe.SEEN
    assert seen["tags"] == {"lora": [["blocky", "1", "1", "lbw=OUTS"]]}
    assert seen["prompts"] == ["a red circle "]
    assert "diffusion_model_input_blocks_1_1_proj_in" in seen["keys"]
    assert "transformer_text_model_encoder_layers_0_self_attn_q_proj" in seen["keys"]
    assert seen["kinds"] == ["NetworkModuleLora"]
    assert torch.equal(seen["weights"][into_in_block], originals[into_in_block])  # its block scaled by 0
    assert not torch.allclose(seen["weights"][into_out_block], originals[into_out_block])  # the LoRA's delta
    assert torch.equal(seen["te"], te_original)  # te multiplier 0
    for name, weight in originals.items():  # and nothing is left behind after the run
        assert torch.equal(model.unet.get_submodule(name).weight, weight)


def test_without_edits_the_batch_samples_with_the_lora_as_written(probe_app):
    app, probe, model = probe_app
    layer = UNET_LAYERS[0]
    original = model.unet.get_submodule(layer).weight.detach().clone()
    probe.SEEN.update(layers=[layer], te_layer=TE_LAYERS[0])
    probe.BLOCK = "no layer has this name"
    try:
        app.txt2img(GenerationRequest(prompt="a red circle <lora:blocky:1>", steps=1, width=64, height=64, seed=1))
    finally:
        probe.BLOCK = "diffusion_model_input_blocks_"
    assert not torch.allclose(probe.SEEN["weights"][layer], original)


def test_a_multiplier_changed_during_sampling_takes_effect_at_that_step(probe_app):
    """sd-webui-lora-block-weight's `stop=`: its cfg_denoiser callback sets the multipliers to 0 at a step, and
    A1111's layers use the new multipliers from that model call on."""
    app, probe, model = probe_app
    layer = UNET_LAYERS[3]
    original = model.unet.get_submodule(layer).weight.detach().clone()
    probe.SEEN.clear()
    probe.SEEN.update(layers=[layer], te_layer=TE_LAYERS[0], stop_at=2, per_step=[])
    probe.BLOCK = "no layer has this name"
    try:
        app.txt2img(GenerationRequest(prompt="a red circle <lora:blocky:1>", steps=4, width=64, height=64, seed=1,
                                      sampler_name="Euler"))
    finally:
        probe.BLOCK = "diffusion_model_input_blocks_"
        probe.SEEN.pop("stop_at", None)
    per_step = probe.SEEN["per_step"]
    assert len(per_step) == 4
    assert all(not torch.allclose(w, original) for w in per_step[:2])  # steps 0, 1: with the LoRA
    assert all(torch.equal(w, original) for w in per_step[2:])  # from step 2: unet multiplier 0
