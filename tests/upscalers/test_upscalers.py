"""Upscalers: registry and discovery, tiling maths, spandrel models (a random-weight ESRGAN), Extras end to end."""
import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput, ModelLoadError
from modules.imaging.infotext import format_infotext
from modules.pipeline.extras import ExtrasRequest
from modules.pipeline.job import Job
from modules.upscalers import Upscalers
from modules.upscalers.registry import find_upscaler_models
from modules.upscalers.tiled import count_tiles, upscale_tiled
from tests.pipeline.conftest import make_app


def make_esrgan(folder, name="4x_tiny_esrgan.pth"):
    """A real ESRGAN (RRDBNet) key layout, shrunk (8 filters, 1 block), random weights, scale 4."""
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    net = ESRGAN(num_filters=8, num_blocks=1, scale=4)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save(net.state_dict(), path)
    return path


def noise_image(size=(24, 20), seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture
def esrgan_app(tmp_path, tiny_checkpoint):
    make_esrgan(tmp_path / "models" / "ESRGAN")
    return make_app(tmp_path, tiny_checkpoint)


def test_tiling_a_per_pixel_model_equals_one_pass():
    image = torch.rand(1, 3, 37, 50)

    def model(x):  # per-pixel and exact under nearest 2x
        return torch.nn.functional.interpolate(x * 0.5 + 0.1, scale_factor=2, mode="nearest")

    calls = []
    tiled = upscale_tiled(model, image, 2, tile=16, overlap=4, progress=lambda d, t: calls.append((d, t)))
    assert torch.allclose(tiled, model(image), atol=1e-6)
    assert calls[-1] == (count_tiles(37, 50, 16, 4),) * 2 and len(calls) == calls[-1][1]


def test_discovery_names_and_unknown_names(tmp_path):
    make_esrgan(tmp_path / "ESRGAN", "4x-Foo.pth")
    make_esrgan(tmp_path / "DAT" / "sub", "4x-Foo.safetensors.pth")
    rows = find_upscaler_models(tmp_path)
    assert [r.name for r in rows] == ["4x-Foo", "4x-Foo.safetensors"] and rows[0].scale == 4
    ups = Upscalers(tmp_path)
    assert [r.name for r in ups.list()][:3] == ["None", "Lanczos", "Nearest"]
    with pytest.raises(InvalidInput, match="upscaler.*'nope'.*Lanczos"):
        ups.find("nope")


def test_spandrel_model_upscales_4x_tiled_and_untiled(tmp_path):
    make_esrgan(tmp_path / "ESRGAN")
    ups = Upscalers(tmp_path)
    image = noise_image((40, 24))
    whole = ups.upscale(image, "4x_tiny_esrgan", 4, tile=0)
    tiled = ups.upscale(image, "4x_tiny_esrgan", 4, tile=16, overlap=4)
    assert whole.size == tiled.size == (160, 96)
    assert np.abs(np.asarray(whole, np.int16) - np.asarray(tiled, np.int16)).mean() < 8


def test_unrecognised_and_unsafe_files_are_clear_errors(tmp_path):
    folder = tmp_path / "ESRGAN"
    folder.mkdir()
    torch.save({"some.weight": torch.zeros(3, 3)}, folder / "junk.pth")
    (folder / "text.pth").write_bytes(b"this is not a model")
    ups = Upscalers(tmp_path)
    with pytest.raises(ModelLoadError, match="junk.pth.*spandrel does not recognise"):
        ups.upscale(noise_image(), "junk", 2)
    with pytest.raises(ModelLoadError, match="text.pth.*not a readable"):
        ups.upscale(noise_image(), "text", 2)


def test_extras_upscales_4x_with_a_spandrel_model_and_saves(esrgan_app):
    source = noise_image((20, 16))
    source.info["parameters"] = format_infotext("cat", "", {"Steps": 3, "Seed": 5})
    job = Job()
    result = esrgan_app.extras(ExtrasRequest(images=[source], upscaler_1="4x_tiny_esrgan", upscaling_resize=4,
                                             save_images=True), job)
    assert result.images[0].size == (80, 64)
    assert result.infotexts[0] == "Postprocess upscale by: 4, Postprocess upscaler: 4x_tiny_esrgan"
    saved = Image.open(result.saved_paths[0])
    assert saved.size == (80, 64) and saved.info["extras"] == saved.info["postprocessing"] == result.infotexts[0]
    assert saved.info["parameters"].startswith("cat")
    assert result.saved_paths[0].parent.name == "extras-images"
    assert job.progress().sampling_step == job.progress().sampling_steps >= 1
    assert result.html_info.startswith("<p>Postprocess upscale by: 4")


def test_extras_scale_to_with_crop_and_two_blended_upscalers(esrgan_app):
    req = ExtrasRequest(images=[noise_image((20, 10)), noise_image((20, 10), 1)], resize_mode=1,
                        upscaling_resize_w=64, upscaling_resize_h=64, upscaler_1="Lanczos",
                        upscaler_2="4x_tiny_esrgan", extras_upscaler_2_visibility=0.5)
    result = esrgan_app.extras(req)
    assert [im.size for im in result.images] == [(64, 64), (64, 64)]
    assert "Postprocess crop to: 64x64" in result.infotexts[0] and "Postprocess upscaler 2" in result.infotexts[0]
    nearest = esrgan_app.extras(ExtrasRequest(images=[noise_image((8, 8))], upscaler_1="Nearest",
                                              upscaling_resize=2))
    assert np.array_equal(np.asarray(nearest.images[0])[::2, ::2], np.asarray(noise_image((8, 8))))


def test_extras_bad_inputs(esrgan_app):
    with pytest.raises(InvalidInput, match="image"):
        esrgan_app.extras(ExtrasRequest(images=[b"garbage"]))
    with pytest.raises(InvalidInput, match="upscaler_1.*unknown"):
        esrgan_app.extras(ExtrasRequest(images=[noise_image()], upscaler_1="R-ESRGAN 4x+"))
    with pytest.raises(InvalidInput, match="gfpgan_visibility.*face restoration"):
        esrgan_app.extras(ExtrasRequest(images=[noise_image()], gfpgan_visibility=1))
    with pytest.raises(InvalidInput, match="upscaling_resize"):
        esrgan_app.extras(ExtrasRequest(images=[noise_image()], upscaling_resize=0))


def test_model_upscaler_in_hires_fix_and_img2img_resize(esrgan_app):
    from modules.pipeline.img2img_request import Img2ImgRequest
    from modules.pipeline.request import GenerationRequest

    base = dict(prompt="x", steps=2, width=64, height=64, seed=1)
    hires = esrgan_app.txt2img(GenerationRequest(**base, enable_hr=True, hr_upscaler="4x_tiny_esrgan",
                                                 hr_second_pass_steps=1))
    assert hires.images[0].size == (128, 128) and "Hires upscaler: 4x_tiny_esrgan" in hires.infotexts[0]
    small = noise_image((16, 16))
    plain = esrgan_app.img2img(Img2ImgRequest(**base, init_images=[small], denoising_strength=0.0))
    modelled = esrgan_app.img2img(Img2ImgRequest(**base, init_images=[small], denoising_strength=0.0,
                                                 override_settings={"upscaler_for_img2img": "4x_tiny_esrgan"}))
    assert modelled.images[0].size == (64, 64)
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(modelled.images[0]))
    with pytest.raises(InvalidInput, match="upscaler_for_img2img"):
        esrgan_app.img2img(Img2ImgRequest(**base, init_images=[small], denoising_strength=0.0,
                                          override_settings={"upscaler_for_img2img": "missing"}))


def test_extras_batch_from_directory(esrgan_app, tmp_path):
    from modules.pipeline.extras import extras_from_folder

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    noise_image((8, 6)).save(src / "one.png")
    noise_image((10, 10), 1).save(src / "two.jpg")
    result = extras_from_folder(esrgan_app.extras, ExtrasRequest(upscaler_1="Nearest", upscaling_resize=2),
                                str(src), str(out))
    assert [im.size for im in result.images] == [(16, 12), (20, 20)]
    assert sorted(p.name for p in out.iterdir()) == ["one.png", "two.png"]
    assert Image.open(out / "one.png").info["extras"].startswith("Postprocess upscale by: 2")
