"""SDXL inpainting (9 channels) and the SDXL refiner against diffusers' own pipelines on the same single files,
the refiner's aesthetic-score time ids, the float16 VAE fallback, SDXL LoRA names (kohya te1/te2/unet, diffusers)
and a VAE of another family."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLInpaintPipeline
from PIL import Image

from modules.models.devices import DeviceConfig
from modules.models.engines.sdxl_refiner import SDXLRefinerEngine
from modules.models.hashing import HashCache
from modules.models.lora_library import LoraLibrary
from modules.models.manager import ModelManager
from modules.paths import Paths
from modules.pipeline.img2img import img2img_steps, partial_schedule
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.fixtures.tiny_lora import lora_tensors, write_lora
from tests.fixtures.tiny_sdxl import diffusers_sdxl_folder, make_16_channel_vae, make_tiny_sdxl_checkpoint
from tests.fixtures.diffusers_oracle import (capture, check_same_sdxl_conditioning, easel_conds, euler_scheduler,
                                             load_pipeline)
from tests.pipeline.conftest import euler_denoiser, make_app

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)


def first_unet_input(model) -> tuple[dict[str, torch.Tensor], object]:
    seen: dict[str, torch.Tensor] = {}

    def hook(_module, args, kwargs):
        seen.setdefault("x", args[0].clone())
        seen.setdefault("time_ids", kwargs["added_cond_kwargs"]["time_ids"].clone())

    return seen, model.unet.register_forward_pre_hook(hook, with_kwargs=True)


def test_inpainting_matches_diffusers_from_single_file(tmp_path):
    """Whole-image repaint at strength 1 (A1111's latent blend is then a no-op, which diffusers' 9-channel path
    lacks); the mask and masked-image latents Easel builds go to diffusers as they are."""
    checkpoint = make_tiny_sdxl_checkpoint(tmp_path / "src", kind="inpaint")
    pixels = np.random.default_rng(5).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    image, mask = Image.fromarray(pixels), Image.new("L", (64, 64), 255)
    req = Img2ImgRequest(prompt="a red circle", negative_prompt="blue", steps=6, width=64, height=64, seed=11,
                         sampler_name="Euler", cfg_scale=6.0, denoising_strength=1.0, init_images=[image], mask=mask,
                         inpainting_fill=1)
    app = make_app(tmp_path / "app", checkpoint, "--precision", "full")
    model = app.models.get(None)
    assert model.family == "sdxl-inpaint" and model.unet_in_channels == 9
    decoded = capture(model, "decode")
    seen, handle = first_unet_input(model)
    try:
        app.img2img(req)
    finally:
        handle.remove()
    ours, concat = decoded["decode"], seen["x"][:1, 4:]  # [1, 4, 8, 8], [1, 5, 8, 8]: mask, masked-image latents
    assert bool((concat[:, :1] == 1).all())

    total, t_enc = img2img_steps(req.steps, 1.0, False)
    cond, uncond = easel_conds(app, model, req, total)
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", total, euler_denoiser(app, model))[0]
    pipe = load_pipeline(StableDiffusionXLInpaintPipeline, checkpoint,
                         diffusers_sdxl_folder(tmp_path / "diffusers-config", "inpaint", euler_scheduler()))
    check_same_sdxl_conditioning(pipe, req, cond, uncond)
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond.cross_attn, negative_prompt_embeds=uncond.cross_attn,
                      pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=uncond.pooled, image=image,
                      mask_image=mask, masked_image_latents=concat[:, 1:], strength=1.0,
                      sigmas=partial_schedule(sigmas, t_enc).tolist(), guidance_scale=6.0, height=64, width=64,
                      generator=torch.Generator().manual_seed(11), output_type="latent").images
    assert ours.abs().max() > 0.1
    assert (ours - theirs).abs().max().item() <= 1e-3


@pytest.fixture(scope="module")
def refiner_file(tmp_path_factory):
    return make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("refiner") / "src", kind="refiner")


def refiner_app(tmp_path, refiner_file):
    """An App whose current model is the refiner (the manager refuses it as the main model, so the test loads it
    the way the refiner switch does and puts it in place)."""
    app = make_app(tmp_path / "app", refiner_file, "--precision", "full")
    manager = app.models
    manager._current = manager._load(manager._pick(None), None, as_refiner=True)
    return app, manager._current


def test_refiner_img2img_matches_diffusers_with_aesthetic_scores(tmp_path, refiner_file):
    pixels = np.random.default_rng(9).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    req = Img2ImgRequest(prompt="a red circle", negative_prompt="blue", steps=10, width=64, height=64, seed=4,
                         sampler_name="Euler", cfg_scale=5.0, denoising_strength=0.3,
                         init_images=[Image.fromarray(pixels)])
    app, model = refiner_app(tmp_path, refiner_file)
    assert type(model.engine) is SDXLRefinerEngine and model.engine.a1111_flags["is_sdxl"]
    init, decoded = capture(model, "encode"), capture(model, "decode")
    app.img2img(req)
    ours = decoded["decode"]
    init_latent = model.encode(init["encode"], sample=False)  # [1, 4, 8, 8]

    total, t_enc = img2img_steps(req.steps, 0.3, False)
    cond, uncond = easel_conds(app, model, req, total)
    assert cond.cross_attn.shape[-1] == 48 and cond.added["aesthetic_score"].item() == 6.0
    assert uncond.added["aesthetic_score"].item() == 2.5  # A1111's low score for the negative prompt
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", total, euler_denoiser(app, model))[0]
    pipe = load_pipeline(StableDiffusionXLImg2ImgPipeline, refiner_file,
                         diffusers_sdxl_folder(tmp_path / "diffusers-config", "refiner", euler_scheduler()))
    check_same_sdxl_conditioning(pipe, req, cond, uncond)
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond.cross_attn, negative_prompt_embeds=uncond.cross_attn,
                      pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=uncond.pooled,
                      image=init_latent, strength=1.0, sigmas=partial_schedule(sigmas, t_enc).tolist(),
                      guidance_scale=5.0, aesthetic_score=6.0, negative_aesthetic_score=2.5,
                      generator=torch.Generator().manual_seed(4), output_type="latent").images
    assert (ours - init_latent).abs().max() > 0.05
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_refiner_time_ids_are_size_crop_and_aesthetic_score(tmp_path, refiner_file):
    _, model = refiner_app(tmp_path, refiner_file)
    cond = model.encode_prompt(["a red circle"], 1, crop=(8, 0), aesthetic_score=3.5)[0]
    seen, handle = first_unet_input(model)
    try:
        model.unet_forward(torch.zeros(1, 4, 8, 12), 300.0, cond.cross_attn, pooled=cond.pooled, added=cond.added)
    finally:
        handle.remove()
    assert seen["time_ids"].tolist() == [[64.0, 96.0, 8.0, 0.0, 3.5]]


def test_a_float16_vae_that_overflows_is_redone_in_float32(tmp_path):
    """A decoder whose first convolution overflows float16 (inf → NaN after its norm) decodes in float32."""
    checkpoint = make_tiny_sdxl_checkpoint(tmp_path / "models" / "Stable-diffusion")
    paths = Paths(data_dir=tmp_path)
    half_vae = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float16)
    model = ModelManager(paths, half_vae, HashCache(paths.cache_json)).get()
    assert model.checkpoint.path == checkpoint and model.vae_dtype == torch.float16
    with torch.no_grad():
        model.vae.decoder.conv_in.weight.fill_(1000.0)  # 36 taps × ~77 × 1000 ≈ 2.8e6 > float16's 65504
    images = model.decode(torch.full((1, 4, 8, 8), 10.0))
    assert bool(torch.isfinite(images).all()) and images.shape == (1, 3, 64, 64)
    assert model.vae_dtype == torch.float32 and model.vae.dtype == torch.float32  # A1111 keeps it in float32


# ---- LoRA -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sdxl_manager(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sdxl-lora") / "models" / "Stable-diffusion"
    make_tiny_sdxl_checkpoint(folder)
    paths = Paths(data_dir=folder.parents[1])
    return ModelManager(paths, FP32, HashCache(paths.cache_json))


def sdxl_lora(model, diffusers_names: bool = False) -> dict[str, torch.Tensor]:
    """A LoRA on CLIP-L, bigG and two UNet layers: kohya's names, or diffusers/PEFT's."""
    generator = torch.Generator().manual_seed(1)
    layers = [("lora_te1_text_model_", "text_encoder.text_model.", model.engine.towers[0].model,
               "encoder.layers.0.self_attn.q_proj"),
              ("lora_te2_text_model_", "text_encoder_2.text_model.", model.engine.towers[1].model.text_model,
               "encoder.layers.1.mlp.fc1"),
              ("lora_unet_", "unet.", model.unet, "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k"),
              ("lora_unet_", "unet.", model.unet, "mid_block.attentions.0.proj_in")]
    tensors = {}
    for kohya, peft, root, name in layers:
        out_ch, in_ch = root.get_submodule(name).weight.shape
        down, up = torch.randn(2, in_ch, generator=generator) * 0.3, torch.randn(out_ch, 2, generator=generator) * 0.3
        if diffusers_names:
            tensors.update({f"{peft}{name}.lora_A.weight": down, f"{peft}{name}.lora_B.weight": up})
        else:
            key = kohya + name.replace(".", "_")
            tensors.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                            f"{key}.alpha": torch.tensor(2.0)})
    return tensors


@pytest.mark.parametrize("diffusers_names", [False, True])
def test_sdxl_lora_patches_both_towers_and_the_unet_and_restores_every_weight(tmp_path, sdxl_manager,
                                                                               diffusers_names):
    model = sdxl_manager.get()
    write_lora(tmp_path / "Lora" / "xl.safetensors", sdxl_lora(model, diffusers_names))
    library = LoraLibrary(tmp_path / "Lora")
    network = library.load(library.find("xl"))
    before = {k: v.clone() for k, v in model.engine.towers[1].model.state_dict().items()}
    q_proj = model.engine.towers[0].model.get_submodule("encoder.layers.0.self_attn.q_proj").weight.clone()
    cond = model.encode_prompt(["a red circle"], 1)[0]
    try:
        assert sdxl_manager.apply_loras(model, [(network, 0.0, 0.0)]) == []  # weight 0: nothing changes
        assert torch.equal(model.encode_prompt(["a red circle"], 1)[0].cross_attn, cond.cross_attn)
        sdxl_manager.restore_weights(model)
        assert sdxl_manager.apply_loras(model, [(network, 1.0, 1.0)]) == []  # every layer found and fitting
        fc1 = model.engine.towers[1].model.text_model.get_submodule("encoder.layers.1.mlp.fc1").weight
        assert not torch.equal(fc1, before["text_model.encoder.layers.1.mlp.fc1.weight"])
        patched = model.engine.towers[0].model.get_submodule("encoder.layers.0.self_attn.q_proj").weight
        assert not torch.equal(patched, q_proj)
    finally:
        sdxl_manager.restore_weights(model)
    after = model.engine.towers[1].model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert torch.equal(model.engine.towers[0].model.get_submodule("encoder.layers.0.self_attn.q_proj").weight, q_proj)


def test_an_sd1_lora_on_sdxl_is_refused_naming_it(tmp_path, sdxl_manager, tiny_checkpoint):
    from modules.errors import InvalidInput

    sd1 = ModelManager(Paths(data_dir=tiny_checkpoint.parents[2]), FP32, HashCache(tmp_path / "c.json")).get()
    write_lora(tmp_path / "Lora" / "sd1style.safetensors", lora_tensors(sd1))
    library = LoraLibrary(tmp_path / "Lora")
    network = library.load(library.find("sd1style"))
    model = sdxl_manager.get()
    try:
        with pytest.raises(InvalidInput, match=r"sd1style\.safetensors\) was made for "):
            sdxl_manager.apply_loras(model, [(network, 1.0, 1.0)])  # refused, not half applied
    finally:
        sdxl_manager.restore_weights(model)


def test_a_vae_of_another_family_is_refused_naming_the_file(tmp_path):
    """A 16-channel VAE (SD3/Flux-shaped) on SDXL: a load error that names the VAE file; no model stays loaded."""
    from modules.errors import ModelLoadError

    make_tiny_sdxl_checkpoint(tmp_path / "models" / "Stable-diffusion", name="xl")
    make_16_channel_vae(tmp_path / "models" / "VAE")
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    with pytest.raises(ModelLoadError, match=r"flux\.safetensors.*VAE weights do not fit"):
        manager.get(None, "flux.safetensors")
    assert manager.current is None
