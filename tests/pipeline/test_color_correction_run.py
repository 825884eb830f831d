"""img2img_color_correction and save_images_before_color_correction through a real img2img run."""
import numpy as np
from PIL import Image

from modules.imaging.color_correction import color_correct, correction_target
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.pipeline.test_inpaint import BASE, box_mask, pixels

CC = {"img2img_color_correction": True}


def orange(size=(64, 64)):
    rng = np.random.default_rng(5)
    base = np.array([210, 120, 40]) + rng.integers(-30, 30, (size[1], size[0], 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def test_result_is_the_plain_result_colour_corrected(app):
    init = orange()
    plain = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.9)).images[0]
    corrected = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.9,
                                           override_settings=CC)).images[0]
    expected = color_correct(plain, correction_target(init))
    assert (pixels(corrected) == pixels(expected)).all() and (pixels(corrected) != pixels(plain)).any()


def test_uncorrected_copy_is_saved_with_its_suffix(app):
    init = orange()
    plain = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.9)).images[0]
    saves = {**CC, "save_images_before_color_correction": True}
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.9, save_images=True,
                                        override_settings=saves))
    files = sorted((app.paths.data_dir / "outputs" / "img2img-images").rglob("*.png"))
    assert [f.name.split("-", 1)[1] for f in files] == ["77-before-color-correction.png", "77.png"]
    assert (pixels(Image.open(files[0])) == pixels(plain)).all()
    assert Image.open(files[0]).info["parameters"] == result.infotexts[0]
    assert len(result.images) == 1  # the copy is saved, not shown


def test_inpainting_keeps_the_original_outside_the_mask(app):
    init, box = orange(), (16, 16, 48, 48)
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[init], mask=box_mask((64, 64), box), mask_blur=0,
                                        denoising_strength=0.9, override_settings=CC)).images[0]
    outside = np.ones((64, 64), dtype=bool)
    outside[box[1]:box[3], box[0]:box[2]] = False
    assert (pixels(result)[outside] == pixels(init)[outside]).all()  # corrected before the overlay, as A1111
