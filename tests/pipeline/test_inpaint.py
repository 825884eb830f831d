"""Inpainting on both tiny models: kept pixels identical, blur reach, fill modes, odd masks."""
import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.imaging.masks import gaussian_kernel
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.inpaint import plan_mask
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=77)


def pixels(image):
    return np.asarray(image.convert("RGB")).astype(np.int16)


def noise_image(size=(96, 96), seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def box_mask(size=(96, 96), box=(40, 30, 56, 50)):
    mask = Image.new("L", size)
    mask.paste(255, box)
    return mask


@pytest.fixture(params=["regular", "inpaint"])
def any_app(request, tmp_path, tiny_checkpoint, tiny_inpaint_checkpoint):
    checkpoint = tiny_checkpoint if request.param == "regular" else tiny_inpaint_checkpoint
    return make_app(tmp_path, checkpoint)


def changed(result, source):
    return np.abs(pixels(result.images[0]) - pixels(source)).max(axis=2) > 0  # [H, W]


@pytest.mark.parametrize("fill", [0, 1, 2, 3])
def test_only_masked_without_blur_keeps_everything_outside_the_box(any_app, fill):
    source, box = noise_image(), (40, 30, 56, 50)
    req = Img2ImgRequest(**BASE, init_images=[source], mask=box_mask(box=box), mask_blur=0, inpainting_fill=fill,
                         inpaint_full_res=True, inpaint_full_res_padding=8, denoising_strength=0.8)
    result = any_app.img2img(req)
    assert result.images[0].size == source.size
    diff = changed(result, source)
    inside = np.zeros_like(diff)
    inside[box[1]:box[3], box[0]:box[2]] = True
    assert not diff[~inside].any() and diff[inside].any()
    fields = parse_infotext(result.infotexts[0])
    assert fields["Inpaint area"] == "Only masked" and fields["Masked area padding"] == "8"
    assert fields["Mask blur"] == "0"
    assert ("Conditional mask weight" in fields) == (any_app.models.current.unet_in_channels == 9)


def test_blur_changes_nothing_beyond_its_radius(any_app):
    source, box, blur = noise_image(), (40, 30, 56, 50), 3
    req = Img2ImgRequest(**{**BASE, "width": 96, "height": 96}, init_images=[source], mask=box_mask(box=box),
                         mask_blur=blur, inpaint_full_res=False, denoising_strength=0.9)
    diff = changed(any_app.img2img(req), source)
    radius = len(gaussian_kernel(blur)) // 2
    near = np.zeros_like(diff)
    near[box[1] - radius:box[3] + radius, box[0] - radius:box[2] + radius] = True
    assert not diff[~near].any() and diff[box[1]:box[3], box[0]:box[2]].all()


def test_all_white_mask_is_plain_img2img(any_app):
    source = noise_image((64, 64))
    plain = any_app.img2img(Img2ImgRequest(**BASE, init_images=[source], denoising_strength=0.7))
    white = any_app.img2img(Img2ImgRequest(**BASE, init_images=[source], denoising_strength=0.7,
                                           mask=Image.new("L", (64, 64), 255), mask_blur=0, inpainting_fill=1))
    assert np.array_equal(pixels(plain.images[0]), pixels(white.images[0]))


def test_inverted_painted_mask_keeps_the_painted_part(app):
    source = noise_image()
    painted = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    painted.paste((255, 255, 255, 255), (0, 0, 48, 96))
    req = Img2ImgRequest(**BASE, init_images=[source], mask=painted, inpainting_mask_invert=1, mask_blur=0,
                         denoising_strength=0.8)
    result = app.img2img(req)
    diff = changed(result, source)
    assert not diff[:, :48].any() and diff[:, 48:].any()
    assert parse_infotext(result.infotexts[0])["Mask mode"] == "Inpaint not masked"


def test_mask_of_another_size_is_resized_with_a_note(app):
    source = noise_image()
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[source], mask=box_mask((48, 48), (20, 15, 28, 25)),
                                        mask_blur=0, denoising_strength=0.5))
    assert any("resized" in note for note in result.warnings)
    diff = changed(result, source)
    assert not diff[:20].any() and diff[30:50, 40:56].any()


def test_empty_mask_is_refused_before_any_work(app):
    with pytest.raises(InvalidInput, match="mask.*empty"):
        app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image()], mask=Image.new("L", (96, 96))))
    with pytest.raises(InvalidInput, match="mask.*empty"):  # inverted all-white: the same
        app.img2img(Img2ImgRequest(**BASE, init_images=[noise_image()], mask=Image.new("L", (8, 8), 255),
                                   inpainting_mask_invert=1))


def test_only_masked_refuses_a_mask_its_blur_wipes_out():
    dot = box_mask(box=(40, 30, 41, 31))  # one white pixel
    req = Img2ImgRequest(**BASE, init_images=[noise_image()], mask=dot, mask_blur=64, inpaint_full_res=True)
    with pytest.raises(InvalidInput, match="leaves nothing of this mask") as refused:
        plan_mask(req, (96, 96))
    assert refused.value.field == "mask_blur"
    assert plan_mask(req.replace(mask_blur=1), (96, 96)) is not None


def test_masked_batch_equals_single_runs(any_app):
    source = noise_image((64, 64))
    common = dict(init_images=[source], mask=box_mask((64, 64), (16, 16, 40, 40)), mask_blur=2,
                  inpainting_fill=2, inpaint_full_res=False, denoising_strength=0.75)
    batch = any_app.img2img(Img2ImgRequest(**{**BASE, "batch_size": 2}, **common))
    for image, seed in zip(batch.images, batch.all_seeds):
        single = any_app.img2img(Img2ImgRequest(**{**BASE, "seed": seed}, **common))
        assert np.array_equal(pixels(image), pixels(single.images[0]))
