"""Few-step settings end to end: an SD-Turbo-shaped SD 2.x checkpoint in one step as diffusers runs SD-Turbo, and
the LCM/TCD rows through a whole txt2img job (infotext included)."""
from __future__ import annotations

import torch
from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline

from modules.pipeline.request import GenerationRequest
from tests.fixtures.diffusers_oracle import capture, easel_conds, load_pipeline, sd_config_folder
from tests.fixtures.tiny_lora import lora_tensors, write_lora
from tests.fixtures.tiny_sd2 import TINY_TEXT2, make_tiny_sd2_checkpoint
from tests.pipeline.conftest import make_app


def test_an_sd_turbo_shaped_checkpoint_in_one_step_is_diffusers_sd_turbo(tmp_path):
    """SD-Turbo: SD 2.1 architecture, eps prediction, 512² (here the tiny 64²), one step without guidance; its
    published scheduler config is Euler with trailing timesteps (SDXL-Turbo's: Euler ancestral, the same in one
    step). Easel: Euler a, SGM Uniform, 1 step, CFG 1."""
    checkpoint = make_tiny_sd2_checkpoint(tmp_path / "src", prediction="epsilon", name="sd_turbo")
    app = make_app(tmp_path / "app", checkpoint, "--precision", "full")
    model = app.models.get(None)
    assert model.family == "sd2" and model.prediction_type == "epsilon"
    req = GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=42, sampler_name="Euler a",
                            scheduler="SGM Uniform", cfg_scale=1.0)
    captured = capture(model, "decode")
    result = app.txt2img(req)
    assert "Steps: 1, Sampler: Euler a, Schedule type: SGM Uniform, CFG scale: 1, " in result.infotexts[0]
    ours = captured["decode"]  # [1, 4, 8, 8]

    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                timestep_spacing="trailing", steps_offset=1)
    folder = sd_config_folder(tmp_path / "diffusers-config", TINY_TEXT2, scheduler, pad_token="!")
    pipe = load_pipeline(StableDiffusionPipeline, checkpoint, folder, safety_checker=None,
                         original_config=str(checkpoint.with_suffix(".yaml")))
    pipe.scheduler = scheduler
    cond = easel_conds(app, model, req, 1)[0].cross_attn  # [1, 77, 48]
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(42))  # the seed's noise
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond, latents=noise, num_inference_steps=1, guidance_scale=0.0, height=64,
                      width=64, output_type="latent").images
    assert ours.abs().max() > 0.1 and (ours - theirs).abs().max().item() <= 1e-4


def test_tcd_and_lcm_rows_run_a_txt2img_job_with_a_lora(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, tiny_checkpoint)
    model = app.models.get(None)
    write_lora(app.services.loras.folder / "tcd-lora.safetensors", lora_tensors(model))
    tcd = app.txt2img(GenerationRequest(prompt="a circle <lora:tcd-lora:1>", steps=4, width=64, height=64, seed=3,
                                        sampler_name="TCD", cfg_scale=1.0, eta=1.0))
    assert "Sampler: TCD, Schedule type: LCM" in tcd.infotexts[0] and "Eta: 1," in tcd.infotexts[0]
    lcm = app.txt2img(GenerationRequest(prompt="a circle <lora:tcd-lora:1>", steps=4, width=64, height=64, seed=3,
                                        sampler_name="LCM", scheduler="LCM", cfg_scale=1.0))
    assert "Sampler: LCM, Schedule type: LCM" in lcm.infotexts[0]
    assert len(tcd.images) == len(lcm.images) == 1
