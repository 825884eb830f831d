"""Euler through Easel's whole txt2img path matches diffusers' StableDiffusionPipeline on the same weights (fp32)."""
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

from modules.pipeline.request import GenerationRequest
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.seeds import plan_images
from tests.pipeline.conftest import euler_denoiser


def test_euler_final_latent_matches_diffusers(app_fp32):
    req = GenerationRequest(prompt="a red circle", negative_prompt="blue", steps=8, width=64, height=64, seed=42,
                            sampler_name="Euler", cfg_scale=7.0)
    model = app_fp32.models.get(None)
    assert model.dtype == torch.float32
    captured = {}
    decode = model.decode
    model.decode = lambda latents: captured.setdefault("latents", latents.clone()) is not None and decode(latents)
    app_fp32.txt2img(req)
    ours = captured["latents"]  # [1, 4, 8, 8]

    plan = plan_images(req.prompt, req.negative_prompt, 42, 0, 0.0, 1, 1)
    conds = step_conditioning(app_fp32.services.conditioning, model, plan, 1, req.steps,
                              app_fp32.options.snapshot(), True)
    cond, uncond = conds.cond(0).tensor.cross_attn, conds.uncond(0).cross_attn  # [1, 77, C] each
    denoiser_sigmas = app_fp32.services.samplers.build_sigmas("Euler", "Automatic", req.steps,
                                                              euler_denoiser(app_fp32, model))[0]
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="linspace", steps_offset=1)
    pipe = StableDiffusionPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                                   unet=model.unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(42))  # A1111's CPU/GPU noise
    with torch.inference_mode():
        theirs = pipe(prompt_embeds=cond, negative_prompt_embeds=uncond, latents=noise, sigmas=denoiser_sigmas.tolist(),
                      guidance_scale=7.0, height=64, width=64, output_type="latent").images
    assert ours.abs().max() > 0.1  # a real latent, not an empty one
    assert (ours - theirs).abs().max().item() <= 1e-3
