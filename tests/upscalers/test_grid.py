"""Grid split/combine for SD upscale, and the SD upscale run on the tiny model."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.job import Job
from modules.pipeline.sd_upscale import run_sd_upscale
from modules.upscalers.grid import combine_grid, split_grid


def noise_image(size, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("size,overlap", [((128, 96), 16), ((64, 64), 8), ((150, 70), 0)])
def test_split_then_combine_is_the_identity(size, overlap):
    image = noise_image(size)
    grid = split_grid(image, 64, 64, overlap)
    assert all(t.size == (64, 64) for t in grid.tiles())
    assert np.array_equal(np.asarray(combine_grid(grid)), np.asarray(image))


def test_overlaps_are_blended():
    grid = split_grid(Image.new("RGB", (112, 64)), 64, 64, 16)
    grid.replace_tiles([Image.new("RGB", (64, 64), (0, 0, 0)), Image.new("RGB", (64, 64), (255, 255, 255))])
    row = np.asarray(combine_grid(grid))[10, :, 0]
    assert row[47] == 0 and row[48] < 20 and 100 < row[56] < 160 and row[63] > 230 and row[100] == 255


def test_too_small_or_bad_overlap_is_refused():
    with pytest.raises(InvalidInput, match="smaller than one"):
        split_grid(Image.new("RGB", (32, 32)), 64, 64, 8)
    with pytest.raises(InvalidInput, match="overlap"):
        split_grid(Image.new("RGB", (128, 128)), 64, 64, 64)


def test_sd_upscale_on_the_tiny_model(app):
    source = noise_image((40, 40))  # x2 → 80x80 → four 64x64 tiles overlapping by 16
    req = Img2ImgRequest(prompt="x", steps=1, width=64, height=64, seed=3, init_images=[source],
                         denoising_strength=0.0, batch_size=4, save_images=True)
    opts = app.options.snapshot({"exact_batches": False})  # one UNet call per step for the 4 tiles
    result = run_sd_upscale(app.services, req, opts, Job(), "Lanczos", 2.0, 16)
    assert result.images[0].size == (80, 80)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(source.resize((80, 80), Image.Resampling.LANCZOS)))
    redrawn = run_sd_upscale(app.services, req.replace(denoising_strength=0.5, save_images=False), opts, Job(),
                             "Lanczos", 2.0, 16)
    assert redrawn.images[0].size == (80, 80) and result.saved_paths[0].is_file()
    assert "Denoising strength: 0.5" in redrawn.infotexts[0]
