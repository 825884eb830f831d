"""An App over a fresh data dir holding a copy of the tiny checkpoint, built through webui.build_app."""
from __future__ import annotations

import shutil

import pytest

import webui
from modules import cli


def make_app(tmp_path, checkpoint, *flags):
    target = tmp_path / "models" / "Stable-diffusion"
    target.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.parent.glob(checkpoint.stem + ".*"):
        shutil.copy(file, target / file.name)
    return webui.build_app(cli.parse_args(["--data-dir", str(tmp_path), *flags], env={}))


@pytest.fixture
def app(tmp_path, tiny_checkpoint):
    return make_app(tmp_path, tiny_checkpoint)


@pytest.fixture
def app_fp32(tmp_path, tiny_checkpoint):
    return make_app(tmp_path, tiny_checkpoint, "--precision", "full")


def builtin_checkpoint(name: str):
    """The shipped built-in model `name` (latent factor 4; the inpainting variant has a 9-channel UNet)."""
    from modules.paths import INSTALL_DIR

    return INSTALL_DIR / "models" / "Stable-diffusion" / f"{name}.safetensors"


@pytest.fixture(params=["easel-builtin", "easel-builtin-inpainting"])
def builtin_app(request, tmp_path):
    """An App over a copy of one of the two shipped built-in models."""
    return make_app(tmp_path, builtin_checkpoint(request.param))


def euler_denoiser(app, model):
    """The exact-rows Euler denoiser around `model`, for comparisons with diffusers' pipelines."""
    from modules.pipeline.sample import SamplerChoice, model_denoiser

    spec, _ = app.services.samplers.resolve_sampler("Euler")
    return model_denoiser(model, SamplerChoice(spec, None, {}, {}), True)
