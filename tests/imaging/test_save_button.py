"""The gallery's Save / Zip buttons (modules/imaging/save_button.py) without a browser."""
from __future__ import annotations

import csv
import zipfile
from datetime import datetime

import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.save_button import SaveSettings, save_files
from modules.imaging.saving import ImageSaver

WHEN = datetime(2026, 12, 6, 12, 0, 0)


def shown(seeds):
    """A grid then one image per seed, with their infotexts, as the gallery shows them."""
    images = [Image.new("RGB", (16 * len(seeds), 16), "white")] + [Image.new("RGB", (16, 16), "red") for _ in seeds]
    texts = [f"a cube\nSteps: 2, Seed: {s}, Size: 16x16" for s in [seeds[0], *seeds]]
    info = {"index_of_first_image": 1, "width": 16, "height": 16, "sampler_name": "Euler", "cfg_scale": 7,
            "steps": 2, "sd_model_name": "tiny", "sd_model_hash": "abc"}
    return images, texts, info


def test_selected_image_alone_then_all_with_one_csv_header(tmp_path):
    images, texts, info = shown([5, 6, 7])
    settings = SaveSettings(folder=tmp_path / "log" / "images")
    one = save_files(ImageSaver(), images, texts, info, 2, settings, make_zip=False, now=WHEN)
    assert [p.name for p in one.paths] == ["00000-6.png"] and one.message == "Saved: 00000-6.png"
    every = save_files(ImageSaver(), images, texts, info, 0, settings, make_zip=False, now=WHEN)  # grid selected
    assert [p.name for p in every.paths] == ["grid-0000.png", "00001-5.png", "00002-6.png", "00003-7.png"]
    with open(settings.folder / "log.csv", encoding="utf8", newline="") as file:
        rows = list(csv.reader(file))
    assert len(rows) == 3 and rows[0][0] == "prompt"
    assert rows[1][:2] == ["a cube", "6"] and rows[1][7] == "00000-6.png" and rows[2][7] == "grid-0000.png"
    with Image.open(one.paths[0]) as saved:
        assert saved.info["parameters"] == texts[2]


def test_zip_named_by_the_pattern_holds_the_saved_files(tmp_path):
    images, texts, info = shown([5, 6])
    settings = SaveSettings(folder=tmp_path, selected_only=False, write_csv=False, zip_pattern="[seed]-[seed_last]_x")
    saved = save_files(ImageSaver(), images, texts, info, 1, settings, make_zip=True, now=WHEN)
    archive = saved.paths[0]
    assert archive.name == "5-6_x.zip" and not (tmp_path / "log.csv").exists()
    with zipfile.ZipFile(archive) as packed:
        assert packed.namelist() == [p.name for p in saved.paths[1:]]


def test_nothing_to_save_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="gallery"):
        save_files(ImageSaver(), [], [], {}, 0, SaveSettings(folder=tmp_path), make_zip=False)
