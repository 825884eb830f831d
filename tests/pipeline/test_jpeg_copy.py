"""export_for_4chan, img_downscale_threshold and target_side_length: the JPEG copy of large saved images."""
import numpy as np
from PIL import Image

from modules.imaging.infotext import parse_infotext
from modules.imaging.metadata import read_image_metadata
from modules.imaging.saving import ImageSaver, JpegCopy
from modules.pipeline.request import GenerationRequest

BASE = dict(prompt="a red circle", steps=2, width=64, height=64, seed=5, save_images=True)


def files(app):
    return sorted(p.name for p in (app.paths.data_dir / "outputs" / "txt2img-images").rglob("*.*"))


def test_copy_when_the_file_is_over_the_limit(app):
    small = {"img_downscale_threshold": 0.0}  # any PNG is over 0 MB
    result = app.txt2img(GenerationRequest(**BASE, override_settings=small))
    assert files(app) == ["00000-5.jpg", "00000-5.png"]
    copy = next((app.paths.data_dir / "outputs").rglob("*.jpg"))
    assert Image.open(copy).size == (64, 64) and Image.open(copy).format == "JPEG"
    text, _ = read_image_metadata(copy.read_bytes())  # the infotext, in EXIF
    assert text == result.infotexts[0] and parse_infotext(text)["Seed"] == "5"


def test_no_copy_by_default_for_small_images_or_when_off(app):
    app.txt2img(GenerationRequest(**BASE))
    app.txt2img(GenerationRequest(**BASE, override_settings={"export_for_4chan": False,
                                                              "img_downscale_threshold": 0.0}))
    assert files(app) == ["00000-5.png", "00001-5.png"]


def test_too_large_sides_are_scaled_down(app):
    settings = {"target_side_length": 32.0}
    app.txt2img(GenerationRequest(**{**BASE, "width": 96}, override_settings=settings))
    copy = next((app.paths.data_dir / "outputs").rglob("*.jpg"))
    assert Image.open(copy).size == (32, 21)  # 96x64 → longest side 32, A1111's rounding


def test_saver_copy_names_follow_the_replace_action(tmp_path):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    saver = ImageSaver()
    path = saver.save_image(image, tmp_path, seed=1, infotext="x", fmt="jpg", prefix_date=False,
                            jpeg_copy=JpegCopy(max_side=20, replace=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000-1-1.jpg", "00000-1.jpg"]
    assert Image.open(path).size == (40, 40)
    replaced = saver.save_image(image, tmp_path, seed=2, infotext="x", fmt="jpg", prefix_date=False,
                                jpeg_copy=JpegCopy(max_side=20))
    assert Image.open(replaced).size == (20, 20)  # A1111: a .jpg original is replaced by its copy


def test_save_button_and_extension_saves_get_the_copy_too(tmp_path, tiny_checkpoint):
    from modules.extensions.compat import images
    from modules.imaging.save_button import SaveSettings, save_files
    from tests.extensions.conftest import start, stop
    from tests.pipeline.conftest import make_app

    picture = Image.new("RGB", (8, 8), (9, 9, 9))
    settings = SaveSettings(folder=tmp_path / "button", write_csv=False, jpeg_copy=JpegCopy(max_mb=0.0))
    save_files(ImageSaver(), [picture], ["p\nSteps: 1, Seed: 3"], {}, 0, settings, False)
    assert sorted(p.name for p in (tmp_path / "button").iterdir()) == ["00000.jpg", "00000.png"]
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    start(app, [])
    try:
        app.options.update({"img_downscale_threshold": 0.0})
        images.save_image(picture, str(tmp_path / "ext"), "", forced_filename="x", save_to_dirs=False, info="i")
    finally:
        app.jobs.close()
        stop(app)
    assert sorted(p.name for p in (tmp_path / "ext").iterdir()) == ["x.jpg", "x.png"]
