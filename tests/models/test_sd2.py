"""SD 2.x through the engine seam: detection, offline loading of a tiny single-file checkpoint, the penultimate
OpenCLIP layer with its id-0 padding, clip skip, ε/v configs and native sizes, and Euler txt2img matching diffusers'
own `StableDiffusionPipeline.from_single_file` on the same file (float32)."""
from __future__ import annotations

import re
import shutil

import pytest
import torch
import yaml
from diffusers import StableDiffusionPipeline
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTokenizer

from modules.errors import InvalidInput, ModelLoadError
from modules.models import model_config
from modules.models.components import build_text_encoder
from modules.models.devices import DeviceConfig
from modules.models.engines import sd2
from modules.models.engines.base import EngineContext
from modules.models.families import UNET_IN, detect_family
from modules.models.hashing import HashCache
from modules.models.lora_library import LoraLibrary
from modules.models.manager import ModelManager
from modules.models.safe_load import open_checkpoint
from modules.paths import INSTALL_DIR, Paths
from modules.pipeline.request import GenerationRequest
from tests.fixtures.diffusers_oracle import capture, easel_conds, euler_scheduler, load_pipeline, sd_config_folder
from tests.fixtures.tiny_lora import lora_tensors, write_lora
from tests.fixtures.tiny_sd2 import TINY_TEXT2, full_text_tower, make_tiny_sd2_checkpoint, tiny_sd2_yaml
from tests.pipeline.conftest import euler_denoiser, make_app

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
SD2_SHAPES = {"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024),
              UNET_IN: (320, 4, 3, 3)}


@pytest.fixture(scope="module")
def sd2_v(tmp_path_factory):
    """A tiny SD 2.x v-prediction checkpoint (+ yaml) at `<data dir>/models/Stable-diffusion/`."""
    return make_tiny_sd2_checkpoint(tmp_path_factory.mktemp("sd2-data") / "models" / "Stable-diffusion")


@pytest.fixture(scope="module")
def sd2_model(sd2_v):
    paths = Paths(data_dir=sd2_v.parents[2])
    return ModelManager(paths, FP32, HashCache(paths.cache_json)).get()


def test_openclip_keys_with_a_4_channel_unet_are_sd2_and_other_sd2_variants_are_refused():
    assert detect_family(SD2_SHAPES, "m.safetensors").name == "sd2"
    with pytest.raises(ModelLoadError, match="m.safetensors: SD 2.x inpainting/depth/other variants"):
        detect_family({**SD2_SHAPES, UNET_IN: (320, 9, 3, 3)}, "m.safetensors")


def test_shipped_configs_native_sizes_and_prediction():
    eps = model_config.load_spec(INSTALL_DIR / "configs" / "v2-inference.yaml")
    v = model_config.load_spec(INSTALL_DIR / "configs" / "v2-inference-v.yaml")
    assert (eps.prediction_type, eps.native_size) == ("epsilon", 512)
    assert (v.prediction_type, v.native_size) == ("v_prediction", 768)
    assert eps.text_config is None and sd2.text_config(eps)["hidden_size"] == 1024  # ViT-H/14 by default


def test_shipped_config_builds_the_sd2_unet():
    spec = model_config.load_spec(INSTALL_DIR / "configs" / "v2-inference-v.yaml")
    config = sfu.create_unet_diffusers_config_from_ldm(spec.original_config, {})
    assert list(config["attention_head_dim"]) == [5, 10, 20, 20]  # diffusers counts heads here: 64-channel heads
    assert config["cross_attention_dim"] == 1024 and config["use_linear_projection"]
    assert list(config["block_out_channels"]) == [320, 640, 1280, 1280]


def test_the_real_text_tower_layout_fills_the_23_block_model_exactly():
    """OpenCLIP ViT-H/14's key names and shapes (24 blocks, width 1024) on meta tensors: after leaving out the
    last block, diffusers' converter gives exactly the parameters of the CLIPTextModel Easel builds."""
    width, prefix = 1024, sd2.OPENCLIP_PREFIX
    shapes = {"token_embedding.weight": (49408, width), "positional_embedding": (77, width),
              "ln_final.weight": (width,), "ln_final.bias": (width,), "text_projection": (width, width),
              "logit_scale": ()}
    for i in range(24):
        block = f"transformer.resblocks.{i}."
        shapes.update({block + "attn.in_proj_weight": (3 * width, width), block + "attn.in_proj_bias": (3 * width,),
                       block + "attn.out_proj.weight": (width, width), block + "attn.out_proj.bias": (width,),
                       block + "mlp.c_fc.weight": (4 * width, width), block + "mlp.c_fc.bias": (4 * width,),
                       block + "mlp.c_proj.weight": (width, 4 * width), block + "mlp.c_proj.bias": (width,)})
        shapes.update({block + f"{ln}.{p}": (width,) for ln in ("ln_1", "ln_2") for p in ("weight", "bias")})
    real = {prefix + k: torch.empty(v, device="meta") for k, v in shapes.items()
            if not sd2.is_unused_block(prefix + k, 23)}
    model = build_text_encoder(dict(sd2.VIT_H_TEXT))
    converted = sfu.convert_open_clip_checkpoint(model, real, prefix=prefix)
    ours = {k.removeprefix("text_model."): tuple(v.shape) for k, v in converted.items()
            if not k.startswith("text_projection")}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    assert ours == expected


def test_tiny_checkpoint_loads_offline_as_sd2_with_the_yaml_beside_it(sd2_model):
    assert sd2_model.family == "sd2" and type(sd2_model.engine) is sd2.SD2Engine
    assert sd2_model.prediction_type == "v_prediction" and sd2_model.native_size == 96  # the tiny yaml's
    assert sd2_model.engine.a1111_flags["is_sd2"] and not sd2_model.engine.a1111_flags["is_sd1"]
    assert sd2_model.text_encoder.config.num_hidden_layers == 2  # three blocks in the file, the last unused
    assert sd2_model.text_layers == 3


def test_a_yaml_beside_the_checkpoint_wins(tmp_path):
    eps = make_tiny_sd2_checkpoint(tmp_path / "models" / "Stable-diffusion", prediction="epsilon", name="base")
    paths = Paths(data_dir=tmp_path)
    model = ModelManager(paths, FP32, HashCache(paths.cache_json)).get()
    assert model.checkpoint.path == eps
    assert (model.prediction_type, model.native_size) == ("epsilon", 64)


def _reference_hidden(ids: torch.Tensor, back: int) -> torch.Tensor:
    """OpenCLIP's own computation on the whole tiny tower: the output of block -`back`, then ln_final."""
    tower = full_text_tower(seed=0)
    with torch.no_grad():
        hidden = tower(input_ids=ids, output_hidden_states=True).hidden_states[-back]  # [1, 77, W]
        return tower.final_layer_norm(hidden)


def test_penultimate_layer_with_zero_padding_and_clip_skip(sd2_model):
    tok = sd2_model.tokenizer
    words = tok("a red circle", add_special_tokens=False).input_ids
    clip_style = [tok.bos_token_id, *words] + [tok.eos_token_id] * (76 - len(words))  # what chunks give: [77]
    openclip_style = [tok.bos_token_id, *words, tok.eos_token_id] + [0] * (75 - len(words))  # A1111's SD 2 ids
    ours = {n: sd2_model.text_hidden_states(torch.tensor([clip_style]), n) for n in (1, 2, 3)}
    torch.testing.assert_close(ours[1], _reference_hidden(torch.tensor([openclip_style]), 2))
    torch.testing.assert_close(ours[2], ours[1])  # A1111 reads SD 2 at its penultimate block whatever clip skip says
    torch.testing.assert_close(ours[3], _reference_hidden(torch.tensor([openclip_style]), 3))
    assert not torch.allclose(ours[1], _reference_hidden(torch.tensor([clip_style]), 2))  # padding matters
    with pytest.raises(InvalidInput, match="clip_skip"):
        sd2_model.text_hidden_states(torch.tensor([clip_style]), 4)


def test_a_yaml_reading_the_last_block_moves_clip_skip_with_it(tmp_path, sd2_v):
    folder = tmp_path / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    shutil.copy(sd2_v, folder / sd2_v.name)
    config = yaml.safe_load(sd2_v.with_suffix(".yaml").read_text())
    config["model"]["params"]["cond_stage_config"]["params"]["text_config"]["num_hidden_layers"] = 3  # all blocks
    (folder / sd2_v.with_suffix(".yaml").name).write_text(yaml.safe_dump(config))
    paths = Paths(data_dir=tmp_path)
    model = ModelManager(paths, FP32, HashCache(paths.cache_json)).get()
    tok = model.tokenizer
    ids = torch.tensor([[tok.bos_token_id, 320, tok.eos_token_id] + [0] * 74])  # [1, 77]
    torch.testing.assert_close(model.text_hidden_states(ids, 1), _reference_hidden(ids, 1))
    torch.testing.assert_close(model.text_hidden_states(ids, 2), _reference_hidden(ids, 2))


def test_unlabelled_checkpoints_are_v_when_a1111s_test_says_so(tmp_path, sd2_v, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    for prediction, name in (("epsilon", sd2.EPSILON_CONFIG), ("v", sd2.V_CONFIG)):
        (configs / name).write_text(yaml.safe_dump(tiny_sd2_yaml(prediction)))
    context = EngineContext(FP32, configs, CLIPTokenizer.from_pretrained(INSTALL_DIR / "configs" / "clip-tokenizer"))
    for says_v, expected, native in ((True, "v_prediction", 96), (False, "epsilon", 64)):
        monkeypatch.setattr(sd2, "unet_predicts_v", lambda *a, says_v=says_v: says_v)
        with open_checkpoint(sd2_v) as source:
            engine = sd2.SD2Engine.load(source, model_config.load_spec(configs / sd2.EPSILON_CONFIG), context, True)
        assert (engine.prediction_type, engine.native_size) == (expected, native)


class _ConstantUNet(torch.nn.Module):
    def __init__(self, offset: float):
        super().__init__()
        self.offset, self.config = offset, type("C", (), {"cross_attention_dim": 8})()

    def forward(self, x, t, encoder_hidden_states, return_dict=False):
        return (x + self.offset,)


def test_a1111_v_test_reads_the_mean_output_minus_input():
    assert sd2.unet_predicts_v(_ConstantUNet(-1.5), "cpu", torch.float32)
    assert not sd2.unet_predicts_v(_ConstantUNet(-0.5), "cpu", torch.float32)


def test_an_sd1_lora_on_sd2_is_refused_naming_it(tmp_path, sd2_model, tiny_checkpoint):
    sd1 = ModelManager(Paths(data_dir=tiny_checkpoint.parents[2]), FP32, HashCache(tmp_path / "c.json")).get()
    write_lora(tmp_path / "Lora" / "sd1style.safetensors", lora_tensors(sd1))
    library = LoraLibrary(tmp_path / "Lora")
    network = library.load(library.find("sd1style"))
    paths = Paths(data_dir=sd2_model.checkpoint.path.parents[2])
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    model = manager.get()
    try:
        with pytest.raises(InvalidInput, match=r"sd1style\.safetensors\) was made for .*width 32.*\(48\)"):
            manager.apply_loras(model, [(network, 1.0, 1.0)])  # refused, not half applied
    finally:
        manager.restore_weights(model)


def test_embeddings_of_the_text_width_are_used_and_sd1_ones_are_skipped(tmp_path, sd2_v):
    app = make_app(tmp_path / "app", sd2_v, "--precision", "full")
    for name, width in (("wide", TINY_TEXT2["hidden_size"]), ("narrow", 32)):  # 32: the tiny SD 1.x width
        path = app.paths.embeddings_dir / f"{name}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"string_to_param": {"*": torch.randn(2, width, generator=torch.Generator().manual_seed(3))}},
                   path)
    request = dict(negative_prompt="", steps=2, width=64, height=64, seed=1, sampler_name="Euler")
    result = app.txt2img(GenerationRequest(prompt="a wide narrow circle", **request))
    assert re.search(r'TI hashes: "wide: [0-9a-f]{12}"', result.infotexts[0])
    assert any("narrow" in w and "not used" in w for w in result.warnings), result.warnings


# ---- diffusers' own single-file loading on the same file -----------------------------------------------------

@pytest.mark.parametrize("prediction", ["v", "epsilon"])
def test_euler_txt2img_matches_diffusers_from_single_file(tmp_path, sd2_v, prediction):
    checkpoint = sd2_v if prediction == "v" else make_tiny_sd2_checkpoint(tmp_path / "src", prediction="epsilon")
    diffusers_prediction = "v_prediction" if prediction == "v" else "epsilon"
    req = GenerationRequest(prompt="a red circle", negative_prompt="blue", steps=8, width=64, height=64, seed=42,
                            sampler_name="Euler", cfg_scale=7.0)
    app = make_app(tmp_path / "app", checkpoint, "--precision", "full")
    model = app.models.get(None)
    assert model.family == "sd2" and model.dtype == torch.float32
    assert model.prediction_type == diffusers_prediction
    assert app.models.native_size() == (96 if prediction == "v" else 64)  # what the UI and API default sizes to
    captured = capture(model, "decode")
    app.txt2img(req)
    ours = captured["decode"]  # [1, 4, 8, 8]

    cond, uncond = (c.cross_attn for c in easel_conds(app, model, req, req.steps))  # [1, 77, C] each
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", req.steps, euler_denoiser(app, model))[0]
    folder = sd_config_folder(tmp_path / "diffusers-config", TINY_TEXT2, euler_scheduler(diffusers_prediction),
                              pad_token="!")  # OpenCLIP pads with id 0
    pipe = load_pipeline(StableDiffusionPipeline, checkpoint, folder,
                         original_config=str(checkpoint.with_suffix(".yaml")), safety_checker=None)
    assert pipe.scheduler.config.prediction_type == diffusers_prediction
    with torch.inference_mode():
        their_cond, their_uncond = pipe.encode_prompt(req.prompt, "cpu", 1, True, req.negative_prompt)
    assert (cond - their_cond).abs().max().item() <= 1e-4  # same tokens, padding and penultimate layer
    assert (uncond - their_uncond).abs().max().item() <= 1e-4
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(42))  # A1111's CPU/GPU noise
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond, negative_prompt_embeds=uncond, latents=noise, sigmas=sigmas.tolist(),
                      guidance_scale=7.0, height=64, width=64, output_type="latent").images
    assert ours.abs().max() > 0.1  # a real latent, not an empty one
    assert (ours - theirs).abs().max().item() <= 1e-3
