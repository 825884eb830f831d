"""ControlNet through Easel's txt2img against diffusers' own pipeline on the same files (float32, Euler).

One random-weight ControlNet in lllyasviel's original layout (`control_model.*`, pickled .pth as the v1.1 files)
on the tiny SD 1.x checkpoint. diffusers reads the same .pth with its own single-file loader
(`ControlNetModel.from_single_file`, given a local config folder so nothing asks the hub) and runs
`StableDiffusionControlNetPipeline` with Easel's conditioning, sigmas and noise. The final latents agree within
1e-3 for weight 1, weight 0.5 and guidance end 0.5; weight 0 gives exactly the latents of a run without the unit.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, StableDiffusionPipeline
from PIL import Image

from modules.controlnet.units import ControlUnit, ResizeMode
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.request import GenerationRequest
from modules.pipeline.seeds import plan_images
from tests.fixtures.diffusers_oracle import euler_scheduler, load_pipeline, sd_config_folder
from tests.fixtures.tiny_controlnet import make_tiny_controlnet, tiny_controlnet_model, tiny_controlnet_yaml
from tests.fixtures.tiny_model import TINY_TEXT
from tests.pipeline.conftest import euler_denoiser, make_app

STEPS = 8
SEED = 42


def control_image(size: int = 64) -> Image.Image:
    """A deterministic pattern with edges and flat areas (what a canny map or scribble looks like)."""
    rng = np.random.default_rng(7)
    array = np.zeros((size, size, 3), np.uint8)
    array[16:48, 20:44] = 255
    array[rng.random((size, size)) > 0.97] = 128
    return Image.fromarray(array)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_checkpoint):
    """An fp32 App with the ControlNet in models/ControlNet, and the diffusers pipeline on the same files."""
    root = tmp_path_factory.mktemp("cn-parity")
    app = make_app(root / "app", tiny_checkpoint, "--precision", "full")
    path = make_tiny_controlnet(app.paths.models_dir / "ControlNet", "control_tiny_canny")
    config_dir = root / "controlnet-config"
    tiny_controlnet_model(tiny_controlnet_yaml()).save_config(str(config_dir))  # config only, no weights
    net = ControlNetModel.from_single_file(str(path), config=str(config_dir), local_files_only=True,
                                           torch_dtype=torch.float32)
    base = load_pipeline(StableDiffusionPipeline, tiny_checkpoint,
                         sd_config_folder(root / "sd1-config", TINY_TEXT, euler_scheduler()),
                         original_config=str(tiny_checkpoint.with_suffix(".yaml")), safety_checker=None)
    components = {k: v for k, v in base.components.items() if k not in ("image_encoder",)}
    pipe = StableDiffusionControlNetPipeline(**components, controlnet=net)
    pipe.set_progress_bar_config(disable=True)
    return app, pipe, app.services.controlnets.names()[0]


def request(units=()) -> GenerationRequest:
    return GenerationRequest(prompt="a red square", negative_prompt="blue", steps=STEPS, width=64, height=64,
                             seed=SEED, sampler_name="Euler", cfg_scale=7.0, controlnet_units=tuple(units))


def unit(model: str, **fields) -> ControlUnit:
    return ControlUnit(enabled=True, module="none", model=model, image=control_image(),
                       resize_mode=ResizeMode.JUST_RESIZE, **fields)


def easel_latents(app, req: GenerationRequest) -> torch.Tensor:
    """The final latents of Easel's txt2img (caught on their way to the VAE)."""
    model = app.models.get(None)
    captured: dict[str, torch.Tensor] = {}
    decode = model.decode

    def catch(latents: torch.Tensor) -> torch.Tensor:
        captured.setdefault("latents", latents.clone())
        return decode(latents)

    model.decode = catch
    try:
        app.txt2img(req)
    finally:
        del model.decode
    return captured["latents"]  # [1, 4, 8, 8]


def diffusers_latents(app, pipe, req: GenerationRequest, scale: float, end: float) -> torch.Tensor:
    model = app.models.get(None)
    plan = plan_images(req.prompt, req.negative_prompt, SEED, 0, 0.0, 1, 1)
    conds = step_conditioning(app.services.conditioning, model, plan, 1, req.steps, app.options.snapshot(), True)
    cond, uncond = conds.cond(0).tensor.cross_attn, conds.uncond(0).cross_attn  # [1, 77, C] each
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", req.steps, euler_denoiser(app, model))[0]
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(SEED))  # A1111's CPU noise
    with torch.inference_mode():
        return pipe(prompt_embeds=cond, negative_prompt_embeds=uncond, image=control_image(), latents=noise,
                    sigmas=sigmas.tolist(), guidance_scale=7.0, height=64, width=64, output_type="latent",
                    controlnet_conditioning_scale=scale, control_guidance_end=end).images


# guidance end: the extension steers step i (of n) while i/n ≤ end; diffusers while (i + 1)/n ≤ end. So Easel's
# 0.5 over 8 steps (steps 0–4) is diffusers' 5/8.
@pytest.mark.parametrize("weight,end,their_end", [(1.0, 1.0, 1.0), (0.5, 1.0, 1.0), (1.0, 0.5, 5 / 8)])
def test_txt2img_matches_diffusers_controlnet_pipeline(setup, weight, end, their_end):
    app, pipe, name = setup
    ours = easel_latents(app, request([unit(name, weight=weight, guidance_end=end)]))
    theirs = diffusers_latents(app, pipe, request(), weight, their_end)
    plain = easel_latents(app, request())
    assert (ours - plain).abs().max() > 0.05  # the ControlNet really steers
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_weight_zero_is_bit_identical_to_no_controlnet(setup):
    app, _, name = setup
    assert torch.equal(easel_latents(app, request([unit(name, weight=0.0)])), easel_latents(app, request()))


def test_the_guidance_window_changes_the_result(setup):
    app, _, name = setup
    full = easel_latents(app, request([unit(name)]))
    half = easel_latents(app, request([unit(name, guidance_end=0.5)]))
    late = easel_latents(app, request([unit(name, guidance_start=0.5)]))
    assert (full - half).abs().max() > 1e-3 and (full - late).abs().max() > 1e-3
