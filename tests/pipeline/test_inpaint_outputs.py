"""A1111's inpainting outputs: return_mask(_composite), save_mask(_composite) and overlay_inpaint."""
import numpy as np
from PIL import Image

from modules.pipeline.extra_outputs import Finished, MaskOutputs, mask_composite
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.pipeline.test_inpaint import BASE, box_mask, noise_image, pixels

BOX = (40, 30, 56, 50)
SHOW = {"return_mask": True, "return_mask_composite": True}


def only_masked(**extra):
    return Img2ImgRequest(**BASE, init_images=[noise_image()], mask=box_mask(box=BOX), mask_blur=0,
                          inpaint_full_res=True, inpaint_full_res_padding=8, denoising_strength=0.8, **extra)


def test_mask_and_composite_follow_each_image(app):
    result = app.img2img(only_masked(batch_size=2, override_settings=SHOW))
    assert len(result.images) == 6 and [bool(t) for t in result.infotexts] == [True, False, False] * 2
    assert len(result.info["infotexts"]) == 3  # the grid's and the two images' (A1111: none for the extras)
    assert result.grid.width * result.grid.height == 6 * 96 * 96  # A1111's grid holds the extras too
    image, mask, composite = result.images[:3]
    expected = np.zeros((96, 96), dtype=np.uint8)
    expected[BOX[1]:BOX[3], BOX[0]:BOX[2]] = 255
    assert mask.mode == "RGB" and (np.asarray(mask)[..., 0] == expected).all()
    assert composite.mode == "RGBA" and composite.size == image.size == (96, 96)
    alpha = np.asarray(composite)[..., 3]
    assert (alpha == expected).all()
    inside = expected > 0
    assert (np.asarray(composite)[..., :3][inside] == np.asarray(image)[inside]).all()
    assert result.images[3].info.get("parameters") == result.infotexts[3]


def test_nothing_extra_by_default_or_without_a_mask(app):
    assert len(app.img2img(only_masked()).images) == 1
    plain = Img2ImgRequest(**BASE, init_images=[noise_image()], denoising_strength=0.5, override_settings=SHOW)
    assert len(app.img2img(plain).images) == 1


def test_saved_with_a1111_suffixes_not_shown(app):
    saves = {"save_mask": True, "save_mask_composite": True}
    result = app.img2img(only_masked(save_images=True, override_settings=saves))
    assert len(result.images) == 1
    names = sorted(p.name for p in (app.paths.data_dir / "outputs" / "img2img-images").rglob("*.png"))
    assert [n.split("-", 1)[1] for n in names] == ["77.png", "77-mask.png", "77-mask-composite.png"]  # numbered
    mask_file = next(p for p in (app.paths.data_dir / "outputs").rglob("*-mask.png"))
    assert Image.open(mask_file).info["parameters"] == result.infotexts[0]


def test_overlay_inpaint_off_returns_the_sampled_crop(app):
    kept = app.img2img(only_masked()).images[0]
    raw = app.img2img(only_masked(override_settings={"overlay_inpaint": False})).images[0]
    assert kept.size == (96, 96) and raw.size == (64, 64)  # A1111 does not paste the crop back either
    whole = dict(init_images=[noise_image((64, 64))], mask=box_mask((64, 64), (20, 20, 40, 40)), mask_blur=0,
                 denoising_strength=0.8)
    source = pixels(whole["init_images"][0])
    on = pixels(app.img2img(Img2ImgRequest(**BASE, **whole)).images[0])
    off = pixels(app.img2img(Img2ImgRequest(**BASE, **whole, override_settings={"overlay_inpaint": False})).images[0])
    outside = np.ones((64, 64), dtype=bool)
    outside[20:40, 20:40] = False
    assert (on[outside] == source[outside]).all()
    assert (off[outside] != source[outside]).any()  # the VAE round trip shows outside the mask


def test_mask_composite_alpha_is_mask_times_own_alpha():
    denoised = Image.new("RGBA", (4, 2), (10, 20, 30, 255))
    denoised.putpixel((3, 1), (0, 0, 0, 0))  # outside an "only masked" crop
    mask = Image.fromarray(np.array([[0, 128, 255, 255], [255, 255, 255, 255]], dtype=np.uint8))
    out = np.asarray(mask_composite(denoised, mask, (4, 2)))
    assert out[..., 3].tolist() == [[0, 128, 255, 255], [255, 255, 255, 0]]
    assert out[0, 1, :3].tolist() == [10, 20, 30] and out[0, 0, :3].tolist() == [0, 0, 0]


def test_mask_outputs_pick():
    done = Finished(Image.new("RGB", (2, 2)), mask=Image.new("L", (2, 2), 255))
    picks = MaskOutputs(return_mask=True, save_composite=True).pictures(done)
    assert [(s, save, show) for s, _, save, show in picks] == [("-mask", False, True), ("-mask-composite", True, False)]
    assert MaskOutputs(True, True, True, True).pictures(Finished(Image.new("RGB", (2, 2)))) == []


def test_api_images_carry_the_mask_after_its_image(tmp_path, tiny_checkpoint):
    import base64
    import io
    import json

    from tests.api.conftest import make_client
    from tests.pipeline.test_a1111_fields_api import b64_png

    body = {"prompt": "a red cube", "steps": 2, "width": 64, "height": 64, "seed": 11, "denoising_strength": 0.8,
            "init_images": [b64_png(noise_image((64, 64)))], "mask": b64_png(box_mask((64, 64), (8, 8, 40, 40))),
            "override_settings": {"return_mask": True}}
    with make_client(tmp_path, tiny_checkpoint) as client:
        reply = client.post("/sdapi/v1/img2img", json=body)
    assert reply.status_code == 200, reply.text
    images = [Image.open(io.BytesIO(base64.b64decode(i))) for i in reply.json()["images"]]
    assert len(images) == 2 and "parameters" in images[0].info and "parameters" not in images[1].info
    assert np.asarray(images[1].convert("L"))[20, 20] == 255 and np.asarray(images[1].convert("L"))[60, 60] == 0
    assert len(json.loads(reply.json()["info"])["infotexts"]) == 1
