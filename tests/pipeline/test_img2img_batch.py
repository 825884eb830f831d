"""img2img from a folder: masks by stem, PNG info reuse, named outputs, errors."""
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_batch import BatchFolders, run_batch, with_png_info
from modules.pipeline.img2img_request import Img2ImgRequest

BASE = dict(prompt="oil painting", steps=2, width=64, height=64, seed=8, denoising_strength=0.5)


def save_png(path, seed, infotext=None):
    rng = np.random.default_rng(seed)
    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, pnginfo=info)


def test_folder_with_masks_and_png_info(app, tmp_path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    src.mkdir(), masks.mkdir()
    save_png(src / "a.png", 1, "a cat\nNegative prompt: dog\nSteps: 1, Sampler: Euler a, CFG scale: 5, Seed: 42")
    save_png(src / "b.png", 2)
    (src / "notes.txt").write_text("ignored")
    mask = Image.new("L", (64, 64))
    mask.paste(255, (0, 0, 32, 64))
    mask.save(masks / "a.png")
    mask.save(masks / "b.webp")
    folders = BatchFolders(str(src), str(out), str(masks), use_png_info=True)
    results = run_batch(app.img2img, Img2ImgRequest(**BASE, mask_blur=0), folders)
    assert len(results) == 2
    first = parse_infotext(results[0].infotexts[0])
    assert first["Prompt"] == "oil painting a cat" and first["Negative prompt"] == "dog"
    assert (first["Seed"], first["Steps"], first["Sampler"], first["CFG scale"]) == ("42", "1", "Euler a", "5")
    assert parse_infotext(results[1].infotexts[0])["Seed"] == "8"
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    kept = np.asarray(Image.open(out / "b.png"))[:, 32:]
    assert np.array_equal(kept, np.asarray(Image.open(src / "b.png"))[:, 32:])
    run_batch(app.img2img, Img2ImgRequest(**BASE), BatchFolders(str(src), str(out)))
    assert (out / "a-2.png").is_file()


def test_png_info_only_selected_fields():
    req = Img2ImgRequest(**BASE)
    changed = with_png_info(req, "x\nSteps: 9, Seed: 3, Sampler: Heun", ("Seed",))
    assert (changed.seed, changed.steps, changed.sampler_name) == (3, 2, "Euler")
    assert with_png_info(req, None, ("Seed",)) is req


def test_missing_or_empty_folders_are_named(tmp_path):
    with pytest.raises(InvalidInput, match="input_dir.*not a folder"):
        run_batch(lambda r: None, Img2ImgRequest(**BASE), BatchFolders(str(tmp_path / "nope")))
    with pytest.raises(InvalidInput, match="input_dir.*no images"):
        run_batch(lambda r: None, Img2ImgRequest(**BASE), BatchFolders(str(tmp_path)))
