"""SDXL base + SDXL refiner with "Switch at" 0.8 against diffusers' own two-pipeline recipe on the same files:
`StableDiffusionXLPipeline(denoising_end=0.8)` → `StableDiffusionXLImg2ImgPipeline(denoising_start=0.8)`, both
loaded with `from_single_file`, same sigmas and noise, each encoding the prompts with its own text encoders
(float32)."""
from __future__ import annotations

import pytest
import torch
from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline

from modules.errors import ModelLoadError
from modules.pipeline.hooks import NoHooks
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from modules.pipeline.txt2img import run_txt2img
from tests.fixtures.diffusers_oracle import euler_scheduler
from tests.fixtures.tiny_sdxl import diffusers_sdxl_folder, make_tiny_sdxl_checkpoint
from tests.pipeline.conftest import euler_denoiser, make_app


class Capture(NoHooks):
    def __init__(self):
        self.latents = None

    def call(self, point, ctx, **kwargs):
        super().call(point, ctx, **kwargs)
        if point == "post_sample":
            self.latents = kwargs["samples"].value.clone()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sdxl-refiner") / "models" / "Stable-diffusion"
    return (make_tiny_sdxl_checkpoint(folder, kind="base", name="xl-base"),
            make_tiny_sdxl_checkpoint(folder, kind="refiner", seed=1, name="xl-refiner"))


def test_base_and_refiner_at_0_8_match_diffusers_denoising_end_and_start(tmp_path, files):
    base_file, refiner_file = files
    app = make_app(tmp_path / "app", base_file, "--precision", "full")
    for file in refiner_file.parent.glob("xl-refiner.*"):
        (tmp_path / "app" / "models" / "Stable-diffusion" / file.name).write_bytes(file.read_bytes())
    req = GenerationRequest(prompt="a red circle", negative_prompt="blue", steps=10, width=64, height=64, seed=42,
                            sampler_name="Euler", cfg_scale=7.0, refiner_checkpoint="xl-refiner",
                            refiner_switch_at=0.8, override_settings={"sd_model_checkpoint": "xl-base"})
    hooks = Capture()
    result = run_txt2img(app.services, req, app.options.snapshot(dict(req.override_settings)), Job(), hooks)
    ours = hooks.latents  # [1, 4, 8, 8]
    assert "Refiner: xl-refiner [" in result.infotexts[0] and "Refiner switch at: 0.8" in result.infotexts[0]

    base = app.models.get("xl-base")
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", req.steps, euler_denoiser(app, base))[0]
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(42))  # A1111's CPU/GPU noise
    base_pipe = StableDiffusionXLPipeline.from_single_file(
        str(base_file), config=str(diffusers_sdxl_folder(tmp_path / "base-config", "base", euler_scheduler())),
        local_files_only=True, torch_dtype=torch.float32)
    refiner_pipe = StableDiffusionXLImg2ImgPipeline.from_single_file(
        str(refiner_file),
        config=str(diffusers_sdxl_folder(tmp_path / "refiner-config", "refiner", euler_scheduler())),
        local_files_only=True, torch_dtype=torch.float32)
    for pipe in (base_pipe, refiner_pipe):
        pipe.set_progress_bar_config(disable=True)
    prompts = dict(prompt=req.prompt, negative_prompt=req.negative_prompt, guidance_scale=req.cfg_scale,
                   sigmas=sigmas.tolist(), output_type="latent")
    with torch.inference_mode():
        handed_over = base_pipe(**prompts, latents=noise, height=64, width=64, denoising_end=0.8).images
        theirs = refiner_pipe(**prompts, image=handed_over, denoising_start=0.8).images
        alone = base_pipe(**prompts, latents=noise, height=64, width=64).images
    assert (ours - alone).abs().max() > 1e-2  # the refiner's last steps changed the latent
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_a_held_sdxl_refiner_is_not_promoted_to_the_main_model(tmp_path, files):
    """Asking for the refiner as the main model is refused as a fresh load is, even while it is held."""
    base_file, refiner_file = files
    app = make_app(tmp_path / "app", base_file, "--precision", "full")
    for file in refiner_file.parent.glob("xl-refiner.*"):
        (tmp_path / "app" / "models" / "Stable-diffusion" / file.name).write_bytes(file.read_bytes())
    base = app.models.get("xl-base")
    assert app.models.refiner("xl-refiner").engine.refiner_only
    with pytest.raises(ModelLoadError, match=r"xl-refiner\.safetensors.*cannot be the main model"):
        app.models.get("xl-refiner")
    assert app.models.current is base  # refused from the file's header, before the main model is dropped
