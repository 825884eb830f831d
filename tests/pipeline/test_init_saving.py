"""save_init_img, outdir_init_images and save_images_replace_action (A1111's forced file names)."""
import hashlib

import numpy as np
from PIL import Image, PngImagePlugin

from modules.imaging.infotext import parse_infotext
from modules.imaging.saving import ImageSaver
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.pipeline.test_inpaint import BASE, noise_image

SAVE = {"save_init_img": True}


def with_text(image, text):
    """`image` as read back from a PNG carrying `text` as its parameters."""
    import io

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_init_image_saved_by_its_md5_with_the_hash_in_the_infotext(app):
    init = with_text(noise_image((64, 64)), "an old prompt\nSteps: 9")
    digest = hashlib.md5(init.tobytes()).hexdigest()
    result = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.5, override_settings=SAVE))
    saved = app.paths.data_dir / "outputs" / "init-images" / f"{digest}.png"
    assert saved.is_file() and np.array_equal(np.asarray(Image.open(saved)), np.asarray(init))
    assert Image.open(saved).info["parameters"] == "an old prompt\nSteps: 9"  # its own text is kept
    assert parse_infotext(result.infotexts[0])["Init image hash"] == digest
    text = result.infotexts[0]
    assert text.index("Denoising strength") < text.index("Init image hash")
    assert not list((app.paths.data_dir / "outputs").rglob("img2img-images/*.png"))  # the results were not saved


def test_off_by_default_and_replace_action(app):
    init, folder = noise_image((64, 64)), app.paths.data_dir / "kept"
    plain = app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.5))
    assert "Init image hash" not in plain.infotexts[0]
    assert not (app.paths.data_dir / "outputs" / "init-images").exists()
    for action in ("Replace", "Replace", "Add number suffix", "Add number suffix"):
        settings = {**SAVE, "outdir_init_images": "kept", "save_images_replace_action": action}
        app.img2img(Img2ImgRequest(**BASE, init_images=[init], denoising_strength=0.5, override_settings=settings))
    digest = hashlib.md5(init.tobytes()).hexdigest()
    assert sorted(p.name for p in folder.iterdir()) == [f"{digest}-1.png", f"{digest}-2.png", f"{digest}.png"]


def test_save_named_replaces_or_numbers(tmp_path):
    saver, target = ImageSaver(), tmp_path / "sub" / "name.png"
    assert saver.save_named(b"one", target) == target
    assert saver.save_named(b"two", target) == target and target.read_bytes() == b"two"
    assert saver.save_named(b"three", target, replace=False) == tmp_path / "sub" / "name-1.png"
    assert saver.save_named(b"four", target, replace=False).name == "name-2.png"
    assert sorted(p.name for p in target.parent.iterdir()) == ["name-1.png", "name-2.png", "name.png"]


def test_extension_saves_under_a_forced_name_follow_the_replace_action(tmp_path, tiny_checkpoint):
    from modules.extensions.compat import images
    from tests.extensions.conftest import start, stop
    from tests.pipeline.conftest import make_app

    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    start(app, [])
    try:
        image = Image.new("RGB", (8, 8), (1, 2, 3))
        first, _ = images.save_image(image, str(tmp_path / "out"), "", forced_filename="exact", save_to_dirs=False)
        app.options.update({"save_images_replace_action": "Add number suffix"})
        second, _ = images.save_image(image, str(tmp_path / "out"), "", forced_filename="exact", save_to_dirs=False)
    finally:
        app.jobs.close()
        stop(app)
    assert first.endswith("exact.png") and second.endswith("exact-1.png")
