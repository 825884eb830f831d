"""save_images_before_face_restoration and save_images_before_highres_fix: the copy A1111 saves (suffix, pixels,
infotext), only when the run saves its images."""
import numpy as np
from PIL import Image

from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.request import GenerationRequest
from tests.pipeline.test_face_restoration import BASE, supply_models

GFPGAN = {"face_restoration_model": "GFPGAN", "save_images_before_face_restoration": True}


def saved(app, kind="txt2img"):
    return sorted((app.paths.data_dir / "outputs" / f"{kind}-images").rglob("*.png"))


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_txt2img_saves_the_unrestored_picture_first(app, monkeypatch):
    plain = app.txt2img(GenerationRequest(**BASE)).images[0]
    supply_models(app, monkeypatch)
    result = app.txt2img(GenerationRequest(**BASE, restore_faces=True, save_images=True, override_settings=GFPGAN))
    files = saved(app)
    assert [f.name.split("-", 1)[1] for f in files] == ["7-before-face-restoration.png", "7.png"]
    before = Image.open(files[0])
    assert same(before, plain) and not same(before, result.images[0])
    assert before.info["parameters"] == result.infotexts[0] and len(result.images) == 1


def test_img2img_saves_it_too_and_nothing_unless_saving(app, monkeypatch):
    supply_models(app, monkeypatch)
    init = Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    req = Img2ImgRequest(**BASE, init_images=(init,), denoising_strength=0.6, restore_faces=True,
                         override_settings=GFPGAN)
    app.img2img(req)
    assert saved(app, "img2img") == []
    app.img2img(req.replace(save_images=True))
    assert [f.name.split("-", 1)[1] for f in saved(app, "img2img")] == ["7-before-face-restoration.png", "7.png"]


def test_hires_saves_the_first_pass_picture(app):
    first = app.txt2img(GenerationRequest(**BASE)).images[0]
    hires = dict(enable_hr=True, hr_scale=2, hr_second_pass_steps=1, denoising_strength=0.5, save_images=True)
    for upscaler in ("Latent", "Lanczos"):
        for f in saved(app):
            f.unlink()
        result = app.txt2img(GenerationRequest(**BASE, **hires, hr_upscaler=upscaler,
                                               override_settings={"save_images_before_highres_fix": True}))
        files = saved(app)
        assert [f.name.split("-", 1)[1] for f in files] == ["7-before-highres-fix.png", "7.png"], upscaler
        before = Image.open(files[0])
        assert before.size == (64, 64) and same(before, first) and result.images[0].size == (128, 128)
        assert before.info["parameters"] == result.infotexts[0]
    unasked = app.txt2img(GenerationRequest(**BASE, **hires, hr_upscaler="Lanczos"))
    assert same(unasked.images[0], result.images[0])  # the copy changes nothing in the run
