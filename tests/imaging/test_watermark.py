"""The opt-in invisible watermark: it reads back from saved PNGs, barely changes the picture, and is absent when off."""
import io

import numpy as np
import pytest
from PIL import Image

from modules.imaging import watermark as wm
from modules.imaging.saving import ImageSaver


def pictures():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, 256)
    smooth = np.stack([np.add.outer(x, x) / 2, np.add.outer(x, -x) / 2 + 128, np.outer(x, x) / 255], axis=-1)
    return {
        "smooth": Image.fromarray(smooth.clip(0, 255).astype(np.uint8)),
        "noise": Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)),
        "flat": Image.new("RGB", (128, 128), (120, 80, 200)),
        "odd size": Image.fromarray(rng.integers(60, 200, (150, 203, 3), dtype=np.uint8)),
    }


def png_round_trip(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


def psnr(a: Image.Image, b: Image.Image) -> float:
    error = np.mean((np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) ** 2)
    return float(10 * np.log10(255 ** 2 / error))


@pytest.mark.parametrize("name", ["smooth", "noise", "flat", "odd size"])
def test_the_mark_reads_back_from_a_png_and_is_faint(name):
    image = pictures()[name]
    marked = wm.embed(image)
    assert marked.size == image.size
    assert wm.read(png_round_trip(marked)) == b"StableDiffusionV1"
    assert wm.read(image) != b"StableDiffusionV1"
    assert psnr(image, marked) > 34


def test_other_messages_and_pictures_too_small_for_one_copy():
    image = pictures()["noise"]
    assert wm.read(png_round_trip(wm.embed(image, "Easel")), length=5) == b"Easel"
    small = Image.new("RGB", (64, 64), (10, 20, 30))  # 64 blocks < 136 bits
    assert wm.embed(small) is small


def test_saver_marks_only_when_asked(tmp_path):
    image, saver = pictures()["smooth"], ImageSaver()
    marked = saver.save_image(image, tmp_path, 1, "a\nSteps: 1, Seed: 1, Size: 256x256", watermark=wm.MESSAGE)
    plain = saver.save_image(image, tmp_path, 2, "a\nSteps: 1, Seed: 2, Size: 256x256")
    assert wm.read(Image.open(marked)) == b"StableDiffusionV1"
    assert wm.read(Image.open(plain)) != b"StableDiffusionV1"
    assert np.array_equal(np.asarray(Image.open(plain).convert("RGB")), np.asarray(image))


def test_generated_and_saved_outputs_carry_the_mark_when_the_setting_is_on(tmp_path, tiny_checkpoint):
    from modules.pipeline.request import GenerationRequest
    from tests.pipeline.conftest import make_app

    app = make_app(tmp_path, tiny_checkpoint)
    base = dict(prompt="a red circle", steps=2, width=256, height=256, seed=4, save_images=True)
    off = app.txt2img(GenerationRequest(**base))
    on = app.txt2img(GenerationRequest(**base, override_settings={"enable_invisible_watermark": True}))
    assert wm.read(Image.open(on.saved_paths[0])) == b"StableDiffusionV1"
    assert wm.read(Image.open(off.saved_paths[0])) != b"StableDiffusionV1"
    assert "Steps: 2" in Image.open(on.saved_paths[0]).info["parameters"]  # the infotext is still written
