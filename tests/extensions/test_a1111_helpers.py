"""A1111 helper names extensions call on their own images and latents: shared's checkpoint list functions,
processing's overlay, decoding and txt2img conditioning helpers, sd_samplers_common's latent-to-image ones, and
images.FilenameGenerator (tiny model)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def loaded_app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("helpers"), tiny_checkpoint, "--nowebui")
    start(app, [])
    app.txt2img(GenerationRequest(prompt="a red circle", steps=1, width=64, height=64, seed=1))
    yield app
    app.jobs.close()
    stop(app)


def test_shared_checkpoint_functions(loaded_app):
    from modules import shared

    shared.refresh_checkpoints()
    assert any(title.startswith("tiny") for title in shared.list_checkpoint_tiles())


def test_apply_overlay_composites_and_keeps_the_original(loaded_app):
    from modules import processing

    image = Image.new("RGB", (8, 8), (0, 0, 255))
    overlay = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    overlay.paste((255, 0, 0, 255), (0, 0, 16, 4))  # the kept (unmasked) part: a red top band
    result, before = processing.apply_overlay(image, (4, 4, 8, 8), overlay)
    assert result.size == (16, 16) and result.getpixel((1, 1)) == (255, 0, 0)  # overlay on top
    assert result.getpixel((8, 8)) == (0, 0, 255)  # the image put back at its box
    assert before.getpixel((8, 8))[:3] == (0, 0, 255) and before.getpixel((1, 1))[3] == 0
    same, copy = processing.apply_overlay(image, None, None)
    assert same is image and copy is not image and copy.tobytes() == image.tobytes()


def test_latent_helpers_decode_with_the_loaded_vae(loaded_app):
    from modules import processing, sd_samplers_common

    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))  # [B, 4, h, w]
    decoded = processing.decode_latent_batch(None, latents)
    assert len(decoded) == 2 and decoded[0].shape == (3, 64, 64)
    picture = sd_samplers_common.sample_to_image(latents, 1)
    assert picture.size == (64, 64)
    alone = processing.decode_latent_batch(None, latents[1:2])[0]  # the same decode, batch of one
    expected = ((alone.clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy()  # [H, W, 3]
    assert np.abs(np.asarray(picture).astype(np.int16) - expected.astype(np.int16)).max() <= 1
    assert sd_samplers_common.samples_to_image_grid(latents).size == (128, 64)
    cond = processing.txt2img_image_conditioning(None, latents, 64, 64)
    assert cond.shape == (2, 5, 1, 1) and not cond.any()  # not an inpainting model: A1111's placeholder


def test_filename_generator_applies_patterns(loaded_app):
    from types import SimpleNamespace

    from modules import images

    p = SimpleNamespace(steps=20, cfg_scale=7.0, width=512, height=768, sampler_name="Euler", styles=[])
    name = images.FilenameGenerator(p, 42, "a red circle").apply("[seed]-[steps]-[width]x[height]-[prompt_spaces]")
    assert name == "42-20-512x768-a red circle"


def test_run_pnginfo_and_cast_value(loaded_app):
    """stable-diffusion-webui-images-browser shows a picture's text with modules.extras.run_pnginfo."""
    from modules import extras, shared

    image = Image.new("RGB", (4, 4))
    image.info = {"parameters": "a red circle\nSteps: 3, Seed: 7", "note": "mine"}
    empty, geninfo, html = extras.run_pnginfo(image)
    assert empty == "" and geninfo.startswith("a red circle") and "<b><p>note</p></b>" in html and "mine" in html
    assert extras.run_pnginfo(None) == ("", "", "")
    with pytest.raises(AttributeError, match="page builder"):
        _ = extras.run_modelmerger
    assert shared.opts.cast_value("jpeg_quality", "90") == 90 and shared.opts.cast_value("tiling", "False") is False
