"""SDXL base through the engine seam: detection, shipped configs, offline loading of a tiny single-file checkpoint,
A1111's two-tower conditioning (penultimate states, bigG's pooled end token, zeros for an empty negative prompt,
crop settings in the time ids), and Euler txt2img and img2img matching diffusers' own
`StableDiffusionXLPipeline` / `StableDiffusionXLImg2ImgPipeline.from_single_file` on the same file (float32)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline
from PIL import Image

from modules.errors import ModelLoadError
from modules.models import model_config
from modules.models.components import unet_config
from modules.models.devices import DeviceConfig
from modules.models.engines.sdxl import SDXLEngine
from modules.models.families import UNET_IN, detect_family
from modules.models.hashing import HashCache
from modules.models.ldm_layout import REFINER_CLIP_G_PREFIX, SDXL_CLIP_G_PREFIX, SDXL_CLIP_L_PREFIX
from modules.models.manager import ModelManager
from modules.paths import INSTALL_DIR, Paths
from modules.pipeline.img2img import img2img_steps, partial_schedule
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from tests.fixtures.diffusers_oracle import (capture, check_same_sdxl_conditioning, easel_conds, euler_scheduler,
                                             load_pipeline)
from tests.fixtures.tiny_sdxl import diffusers_sdxl_folder, make_tiny_sdxl_checkpoint
from tests.pipeline.conftest import euler_denoiser, make_app

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
BASE_KEYS = {SDXL_CLIP_L_PREFIX + "text_model.final_layer_norm.weight": (768,),
             SDXL_CLIP_G_PREFIX + "ln_final.weight": (1280,), UNET_IN: (320, 4, 3, 3)}


@pytest.fixture(scope="module")
def sdxl_file(tmp_path_factory):
    return make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("sdxl-data") / "models" / "Stable-diffusion")


@pytest.fixture(scope="module")
def sdxl_model(sdxl_file):
    paths = Paths(data_dir=sdxl_file.parents[2])
    return ModelManager(paths, FP32, HashCache(paths.cache_json)).get()


def test_detection_of_base_inpainting_refiner_and_other_variants():
    assert detect_family(BASE_KEYS, "b.safetensors").name == "sdxl"
    assert detect_family({**BASE_KEYS, UNET_IN: (320, 9, 3, 3)}, "i.safetensors").name == "sdxl-inpaint"
    refiner = {REFINER_CLIP_G_PREFIX + "ln_final.weight": (1280,), UNET_IN: (384, 4, 3, 3)}
    assert detect_family(refiner, "r.safetensors").name == "sdxl-refiner"
    with pytest.raises(ModelLoadError, match="p.safetensors: SDXL instruct-pix2pix/other variants"):
        detect_family({**BASE_KEYS, UNET_IN: (320, 8, 3, 3)}, "p.safetensors")


@pytest.mark.parametrize("name, in_channels, time_ids, context, blocks", [
    ("sd_xl_base.yaml", 4, 6, 2048, [320, 640, 1280]),
    ("sd_xl-inpainting.yaml", 9, 6, 2048, [320, 640, 1280]),
    ("sd_xl_refiner.yaml", 4, 5, 1280, [384, 768, 1536, 1536]),
])
def test_shipped_configs_describe_sdxl(name, in_channels, time_ids, context, blocks):
    spec = model_config.load_spec(INSTALL_DIR / "configs" / name)
    assert (spec.prediction_type, spec.native_size, spec.scale_factor) == ("epsilon", 1024, 0.13025)
    config = unet_config(spec, added_time_ids=True)
    assert config["in_channels"] == in_channels and list(config["block_out_channels"]) == blocks
    assert config["cross_attention_dim"] == context and config["addition_embed_type"] == "text_time"
    assert config["projection_class_embeddings_input_dim"] == 1280 + 256 * time_ids
    if name != "sd_xl_refiner.yaml":
        assert list(config["transformer_layers_per_block"]) == [0, 2, 10]
        assert list(config["attention_head_dim"]) == [5, 10, 20]  # 64-channel heads


def test_tiny_checkpoint_loads_offline_as_sdxl(sdxl_model):
    assert sdxl_model.family == "sdxl" and type(sdxl_model.engine) is SDXLEngine
    assert (sdxl_model.native_size, sdxl_model.latent_scale) == (64, 0.13025)  # the tiny yaml's size
    assert sdxl_model.engine.a1111_flags["is_sdxl"] and not sdxl_model.engine.a1111_flags["is_sd1"]
    assert {k: s.hidden_size for k, s in sdxl_model.text_slots().items()} == {"clip_l": 32, "clip_g": 48}


def test_without_a_yaml_each_family_gets_its_shipped_config():
    from modules.models.discovery import CheckpointInfo
    from modules.models.loader import spec_for
    info = CheckpointInfo(INSTALL_DIR / "x.safetensors", "x.safetensors")
    for shapes, config in ((BASE_KEYS, "sd_xl_base.yaml"), ({**BASE_KEYS, UNET_IN: (320, 9, 3, 3)},
                                                            "sd_xl-inpainting.yaml")):
        spec = spec_for(info, detect_family(shapes, "x.safetensors"), INSTALL_DIR / "configs")
        assert spec.config_path.name == config and spec.native_size == 1024


def test_empty_negative_prompt_is_zeros_and_a_prompt_is_not(sdxl_model):
    neg = sdxl_model.encode_prompt(["", "blue"], 1, negative=True)
    pos = sdxl_model.encode_prompt([""], 1)[0]
    assert neg[0].cross_attn.abs().max() == 0 and neg[0].pooled.abs().max() == 0
    assert neg[1].cross_attn.abs().max() > 0 and pos.cross_attn.abs().max() > 0 and pos.pooled.abs().max() > 0
    assert neg[0].cross_attn.shape == pos.cross_attn.shape == (1, 77, 80)  # 32 (CLIP-L) + 48 (bigG)


def test_long_prompts_have_one_chunk_per_75_tokens_and_pool_the_first(sdxl_model):
    long_text = "red circle, " * 40  # 80 words and 40 commas: two chunks
    first_chunk = sdxl_model.encode_prompt([long_text], 1)[0]
    assert first_chunk.cross_attn.shape[1] == 154
    assert first_chunk.pooled.shape == (1, 40)


def test_crop_settings_reach_the_unet_time_ids(sdxl_model):
    cond = sdxl_model.encode_prompt(["a red circle"], 1, crop=(16, 8))[0]
    seen = {}

    def hook(_module, args, kwargs):
        seen["ids"] = kwargs["added_cond_kwargs"]["time_ids"].clone()

    handle = sdxl_model.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        sdxl_model.unet_forward(torch.zeros(1, 4, 12, 8), 500.0, cond.cross_attn, pooled=cond.pooled,
                                added=cond.added)
    finally:
        handle.remove()
    assert seen["ids"].tolist() == [[96.0, 64.0, 16.0, 8.0, 96.0, 64.0]]  # height, width, top, left, height, width


def test_a_bare_cross_attention_tensor_is_refused_with_a_reason(sdxl_model):
    with pytest.raises(ValueError, match="pooled text embedding"):
        sdxl_model.unet_forward(torch.zeros(1, 4, 8, 8), 500.0, torch.zeros(1, 77, 80))


# ---- diffusers' own single-file loading on the same file -----------------------------------------------------

def test_euler_txt2img_matches_diffusers_from_single_file(tmp_path, sdxl_file):
    req = GenerationRequest(prompt="a red circle", negative_prompt="blue", steps=8, width=64, height=96, seed=42,
                            sampler_name="Euler", cfg_scale=7.0)
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    model = app.models.get(None)
    assert model.family == "sdxl" and model.dtype == torch.float32
    assert app.models.native_size() == 64
    captured = capture(model, "decode")
    app.txt2img(req)
    ours = captured["decode"]  # [1, 4, 12, 8]

    cond, uncond = easel_conds(app, model, req, req.steps)
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", req.steps, euler_denoiser(app, model))[0]
    pipe = load_pipeline(StableDiffusionXLPipeline, sdxl_file,
                         diffusers_sdxl_folder(tmp_path / "diffusers-config", "base", euler_scheduler()))
    check_same_sdxl_conditioning(pipe, req, cond, uncond)
    noise = torch.randn((1, 4, 12, 8), generator=torch.Generator().manual_seed(42))  # A1111's CPU/GPU noise
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond.cross_attn, negative_prompt_embeds=uncond.cross_attn,
                      pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=uncond.pooled, latents=noise,
                      sigmas=sigmas.tolist(), guidance_scale=7.0, height=96, width=64, output_type="latent").images
    assert ours.abs().max() > 0.1  # a real latent, not an empty one
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_euler_img2img_matches_diffusers_from_single_file(tmp_path, sdxl_file):
    pixels = np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    req = Img2ImgRequest(prompt="a red circle", negative_prompt="blue", steps=10, width=64, height=64, seed=7,
                         sampler_name="Euler", cfg_scale=5.0, denoising_strength=0.6,
                         init_images=[Image.fromarray(pixels)])
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    model = app.models.get(None)
    init, decoded = capture(model, "encode"), capture(model, "decode")
    app.img2img(req)
    ours = decoded["decode"]  # [1, 4, 8, 8]
    init_latent = model.encode(init["encode"], sample=False)  # [1, 4, 8, 8], as Easel encodes it

    total, t_enc = img2img_steps(req.steps, 0.6, False)
    cond, uncond = easel_conds(app, model, req, total)
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", total, euler_denoiser(app, model))[0]
    schedule = partial_schedule(sigmas, t_enc)  # the part A1111 runs: [t_enc + 2], ending at 0
    pipe = load_pipeline(StableDiffusionXLImg2ImgPipeline, sdxl_file,
                         diffusers_sdxl_folder(tmp_path / "diffusers-config", "base", euler_scheduler()))
    check_same_sdxl_conditioning(pipe, req, cond, uncond)
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond.cross_attn, negative_prompt_embeds=uncond.cross_attn,
                      pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=uncond.pooled,
                      image=init_latent, strength=1.0, sigmas=schedule.tolist(), guidance_scale=5.0,
                      generator=torch.Generator().manual_seed(7), output_type="latent").images
    assert (ours - init_latent).abs().max() > 0.1  # sampling changed the latent
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_a_refiner_as_the_main_model_is_refused_naming_the_file(tmp_path):
    make_tiny_sdxl_checkpoint(tmp_path / "models" / "Stable-diffusion", kind="refiner", name="my-refiner")
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    with pytest.raises(ModelLoadError, match=r"my-refiner\.safetensors.*SDXL refiner.*cannot be the main model"):
        manager.get()
    assert manager.current is None  # nothing half-loaded stays


def test_choosing_a_refiner_keeps_the_current_model(tmp_path, sdxl_file):
    """The refusal comes from the file's header before the current model is dropped; held as the refiner (as the
    refiner switch loads it), the same file is still refused as the main model."""
    folder = tmp_path / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    for file in sdxl_file.parent.glob(sdxl_file.stem + ".*"):
        (folder / file.name).write_bytes(file.read_bytes())
    make_tiny_sdxl_checkpoint(folder, kind="refiner", name="zz-refiner")
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    base = manager.get(sdxl_file.name)
    assert manager.refiner("zz-refiner.safetensors").engine.refiner_only
    with pytest.raises(ModelLoadError, match=r"zz-refiner\.safetensors.*cannot be the main model"):
        manager.get("zz-refiner.safetensors")
    assert manager.current is base


@pytest.mark.parametrize("refiner", [False, True])
def test_the_full_size_layout_fills_every_network_exactly(refiner):
    """The full-size tool's keys and shapes (meta tensors, nothing allocated), converted as the engine converts
    them, give exactly the parameters of the networks the shipped yaml describes."""
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    from modules.models.engines.sdxl import BIG_G_TEXT
    from tools.make_full_size_checkpoint import sdxl_meta_state_dict

    state = sdxl_meta_state_dict(refiner=refiner)
    spec = model_config.load_spec(INSTALL_DIR / "configs" / ("sd_xl_refiner.yaml" if refiner else "sd_xl_base.yaml"))
    config = unet_config(spec, added_time_ids=True)
    with init_empty_weights():
        unet = UNet2DConditionModel(**config)
        clip_g = CLIPTextModelWithProjection(CLIPTextConfig(**BIG_G_TEXT))
    converted = sfu.convert_ldm_unet_checkpoint({k: v for k, v in state.items() if k.startswith("model.")}, config)
    shapes = {k: tuple(v.shape) for k, v in converted.items()}
    assert shapes == {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    prefix = REFINER_CLIP_G_PREFIX if refiner else SDXL_CLIP_G_PREFIX
    tower = sfu.convert_open_clip_checkpoint(clip_g, {k: v for k, v in state.items() if k.startswith(prefix)}, prefix)
    expected = {k: tuple(v.shape) for k, v in clip_g.state_dict().items() if not k.endswith("position_ids")}
    assert {k: tuple(v.shape) for k, v in tower.items()} == expected
    assert any(k.startswith(SDXL_CLIP_L_PREFIX) for k in state) is not refiner
    assert detect_family({k: tuple(v.shape) for k, v in state.items()}, "x").name == \
        ("sdxl-refiner" if refiner else "sdxl")


def test_models_list_and_native_size_read_the_family_from_the_header_before_loading(tmp_path):
    """Without a yaml beside it, an unloaded SDXL file defaults width/height to 1024 (its row's config) and the
    model list (`/sdapi/v1/sd-models`) names its family; nothing is loaded."""
    from modules.api.routes_lists import sd_model_entry

    folder = tmp_path / "models" / "Stable-diffusion"
    make_tiny_sdxl_checkpoint(folder, name="xl", with_yaml=False)
    make_tiny_sdxl_checkpoint(folder, kind="refiner", name="xl-refiner", with_yaml=False)
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    infos = {i.model_name: i for i in manager.list_checkpoints()}
    assert manager.native_size("xl.safetensors") == 1024 and manager.current is None
    assert sd_model_entry(infos["xl"], manager.family_of(infos["xl"]))["family"] == "SDXL"
    assert sd_model_entry(infos["xl-refiner"], manager.family_of(infos["xl-refiner"]))["family"] == "SDXL refiner"


def test_prompt_language_and_hires_run_through_both_towers(tmp_path, sdxl_file):
    """Emphasis, BREAK, AND, prompt editing and a hires pass on SDXL: the chunks feed both towers (emphasis changes
    each tower's half of the states) and the run goes through."""
    app = make_app(tmp_path / "app", sdxl_file, "--precision", "full")
    model = app.models.get(None)
    plain, weighted = model.encode_prompt(["a red circle", "a (red:1.6) circle"], 1)
    changed = (plain.cross_attn - weighted.cross_attn).abs().amax(dim=(0, 1))  # [80]
    assert changed[:32].max() > 1e-3 and changed[32:].max() > 1e-3  # CLIP-L's 32 and bigG's 48 channels
    assert torch.equal(plain.pooled, weighted.pooled)  # emphasis never touches the pooled output (A1111)
    two_chunks = model.encode_prompt(["a red circle BREAK blue square"], 1)[0]
    assert two_chunks.cross_attn.shape[1] == 154
    req = GenerationRequest(prompt="a [red:blue:2] circle AND a (square:1.2) BREAK sky", negative_prompt="",
                            steps=4, width=64, height=64, seed=5, sampler_name="Euler", enable_hr=True,
                            hr_scale=1.5, denoising_strength=0.5)
    result = app.txt2img(req)
    assert result.images[0].size == (96, 96)
