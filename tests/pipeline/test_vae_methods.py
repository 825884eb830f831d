"""A1111's `sd_vae_decode_method` / `sd_vae_encode_method` = TAESD: final images are decoded (and img2img inputs
encoded) by the TAESD files in models/VAE-taesd/, with A1111's infotext; a missing or foreign file stops the run
naming it; Full leaves everything as it was."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modules.errors import ModelLoadError
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from modules.pipeline.vae_methods import with_vae_methods
from tests.fixtures.tiny_taesd import write_taesd

REQUEST = dict(prompt="a red star", steps=2, width=64, height=64, seed=5, sampler_name="Euler")
COLOUR = (0.2, 0.6, 0.8)  # what the constant TAESD decoder paints everywhere


def taesd_dir(app):
    return app.paths.models_dir / "VAE-taesd"


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_txt2img_decodes_with_the_taesd_file_and_says_so(app):
    full = app.txt2img(GenerationRequest(**REQUEST))
    write_taesd(taesd_dir(app) / "taesd_decoder.pth", constant=COLOUR)
    app.options.set("sd_vae_decode_method", "TAESD")
    fast = app.txt2img(GenerationRequest(**REQUEST))
    expected = np.round(np.array(COLOUR) * 255)
    assert np.abs(pixels(fast.images[0]) - expected).max() <= 1  # every pixel the TAESD file's colour
    assert np.abs(pixels(full.images[0]) - expected).max() > 10  # the full VAE paints no flat picture
    assert parse_infotext(fast.infotexts[0])["VAE Decoder"] == "TAESD"
    assert "VAE Decoder" not in full.infotexts[0] and "VAE Encoder" not in fast.infotexts[0]  # Full: not written


def test_missing_file_stops_the_run_naming_it_and_the_setting(app):
    app.options.set("sd_vae_decode_method", "TAESD")
    with pytest.raises(ModelLoadError, match=r"VAE-taesd/taesd_decoder\.pth.*sd_vae_decode_method is TAESD"):
        app.txt2img(GenerationRequest(**REQUEST))


def test_file_for_another_latent_space_stops_the_run_naming_it(app):
    write_taesd(taesd_dir(app) / "taesd_decoder.pth", latent_channels=16)  # an SD3 decoder under SD1's name
    app.options.set("sd_vae_decode_method", "TAESD")
    with pytest.raises(ModelLoadError, match=r"taesd_decoder\.pth.*16-channel latents"):
        app.txt2img(GenerationRequest(**REQUEST))


def img2img(app, colour):
    init = Image.new("RGB", (64, 64), colour)
    return app.img2img(Img2ImgRequest(init_images=[init], denoising_strength=0.3, **REQUEST))


def test_img2img_encodes_with_the_taesd_encoder(app):
    full_red, full_blue = img2img(app, "red"), img2img(app, "blue")
    assert np.abs(pixels(full_red.images[0]) - pixels(full_blue.images[0])).max() > 10
    write_taesd(taesd_dir(app) / "taesd_encoder.pth", "encoder", constant=(0.1, -0.2, 0.3, 0.0))
    app.options.set("sd_vae_encode_method", "TAESD")
    red, blue = img2img(app, "red"), img2img(app, "blue")
    # the constant encoder forgets the input: both pictures start from the same latents
    assert np.array_equal(pixels(red.images[0]), pixels(blue.images[0]))
    info = parse_infotext(red.infotexts[0])
    assert info["VAE Encoder"] == "TAESD" and "VAE Decoder" not in red.infotexts[0]


def test_full_methods_keep_the_model_itself(app):
    app.txt2img(GenerationRequest(**REQUEST))
    model = app.models.get(None)
    assert with_vae_methods(model, app.options.snapshot(), [app.paths.models_dir], 0) is model


def test_builtin_model_decodes_with_its_shipped_decoder(builtin_app):
    full = builtin_app.txt2img(GenerationRequest(**REQUEST))
    builtin_app.options.set("sd_vae_decode_method", "TAESD")
    fast = builtin_app.txt2img(GenerationRequest(**REQUEST))
    assert fast.images[0].size == (64, 64) and parse_infotext(fast.infotexts[0])["VAE Decoder"] == "TAESD"
    difference = np.abs(pixels(fast.images[0]) - pixels(full.images[0]))
    assert 0 < difference.mean() < 40  # an approximation of the same picture, not the same decode
