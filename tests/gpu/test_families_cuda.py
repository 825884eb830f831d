"""Each model family in float16 on CUDA, on the tiny fixtures: SD 1.x, SD 2.x (v prediction), SDXL base, SDXL
inpainting and SDXL base + refiner run txt2img (or inpainting) through the App as a user's GPU install would (the
device choice's default: float16 UNet, text encoders and VAE), and SDXL's VAE falls back to float32 when a float16
decode gives NaNs (A1111's "Automatically revert VAE to 32-bit floats").

Skipped without CUDA. Run on a GPU machine with `python -m pytest -q tests/gpu` (without EASEL_TEST_PRECISION, which
makes the Apps of a session take a CPU's precision).
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import webui
from modules import cli
from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.manager import ModelManager
from modules.paths import Paths
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from tests.fixtures.tiny_model import make_tiny_checkpoint
from tests.fixtures.tiny_sd2 import make_tiny_sd2_checkpoint
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(bool(os.environ.get("EASEL_TEST_PRECISION")), reason="EASEL_TEST_PRECISION forces a CPU"),
]

HALF_CUDA = DeviceConfig(device="cuda", dtype=torch.float16, vae_dtype=torch.float16)
MAKERS = {
    "sd1": lambda folder: make_tiny_checkpoint(folder, name="sd1"),
    "sd2-v": lambda folder: make_tiny_sd2_checkpoint(folder, prediction="v", name="sd2-v"),
    "sdxl": lambda folder: make_tiny_sdxl_checkpoint(folder, kind="base", name="sdxl"),
}
RUN = dict(prompt="a (red:1.2) circle BREAK sky", negative_prompt="blue", steps=4, width=64, height=64, seed=3,
           sampler_name="Euler", cfg_scale=6.0)


def gpu_app(data_dir):
    """An App over the checkpoints in `data_dir/models/Stable-diffusion`, with the default device choice."""
    return webui.build_app(cli.parse_args(["--data-dir", str(data_dir)], env={}))


def assert_half_on_cuda(model) -> None:
    assert model.device.type == "cuda", model.device
    assert (model.dtype, model.vae_dtype) == (torch.float16, torch.float16)
    assert (model.unet.device.type, model.unet.dtype) == ("cuda", torch.float16)


def assert_real_image(image: Image.Image, size: tuple[int, int]) -> None:
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert image.size == size and pixels.std() > 0  # neither empty nor one flat colour (NaNs decode to black)


@pytest.mark.parametrize("family", list(MAKERS))
def test_txt2img_runs_in_float16_on_cuda(tmp_path, family):
    MAKERS[family](tmp_path / "models" / "Stable-diffusion")
    app = gpu_app(tmp_path)
    model = app.models.get(None)
    assert model.family == family.removesuffix("-v")
    assert_half_on_cuda(model)
    result = app.txt2img(GenerationRequest(**RUN))
    assert_real_image(result.images[0], (64, 64))
    hires = app.txt2img(GenerationRequest(**RUN, enable_hr=True, hr_scale=1.5, denoising_strength=0.5))
    assert_real_image(hires.images[0], (96, 96))


def test_sdxl_inpainting_runs_in_float16_on_cuda(tmp_path):
    make_tiny_sdxl_checkpoint(tmp_path / "models" / "Stable-diffusion", kind="inpaint", name="sdxl-inpaint")
    app = gpu_app(tmp_path)
    model = app.models.get(None)
    assert model.family == "sdxl-inpaint" and model.unet_in_channels == 9
    assert_half_on_cuda(model)
    pixels = np.random.default_rng(5).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    result = app.img2img(Img2ImgRequest(**RUN, init_images=[Image.fromarray(pixels)], mask=mask,
                                        denoising_strength=0.75, inpainting_fill=1))
    assert_real_image(result.images[0], (64, 64))


def test_sdxl_base_and_refiner_switch_in_float16_on_cuda(tmp_path):
    folder = tmp_path / "models" / "Stable-diffusion"
    make_tiny_sdxl_checkpoint(folder, kind="base", name="xl-base")
    make_tiny_sdxl_checkpoint(folder, kind="refiner", seed=1, name="xl-refiner")
    app = gpu_app(tmp_path)
    result = app.txt2img(GenerationRequest(**RUN, refiner_checkpoint="xl-refiner", refiner_switch_at=0.8,
                                           override_settings={"sd_model_checkpoint": "xl-base"}))
    assert "Refiner: xl-refiner [" in result.infotexts[0] and "Refiner switch at: 0.8" in result.infotexts[0]
    assert_real_image(result.images[0], (64, 64))
    assert_half_on_cuda(app.models.get("xl-base"))


def test_sdxl_vae_nans_in_float16_are_decoded_again_in_float32_on_cuda(tmp_path):
    """A decoder whose first convolution overflows float16 (36 taps × ~77 × 1000 ≈ 2.8e6 > 65,504: inf, then NaN
    after its group norm) decodes in float32 on the GPU, and the VAE stays in float32 for the model (which only the
    NaN fallback does)."""
    source = make_tiny_sdxl_checkpoint(tmp_path / "src", name="xl")
    folder = tmp_path / "data" / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    for file in source.parent.glob("xl.*"):
        shutil.copy(file, folder / file.name)
    paths = Paths(data_dir=tmp_path / "data")
    model = ModelManager(paths, HALF_CUDA, HashCache(paths.cache_json)).get()
    assert_half_on_cuda(model)
    with torch.no_grad():
        model.vae.decoder.conv_in.weight.fill_(1000.0)
    images = model.decode(torch.full((1, 4, 8, 8), 10.0))
    assert images.dtype == torch.float32 and bool(torch.isfinite(images).all()) and images.shape == (1, 3, 64, 64)
    assert model.vae_dtype == torch.float32
    assert (model.vae.device.type, model.vae.dtype) == ("cuda", torch.float32)
