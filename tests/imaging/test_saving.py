"""Output naming, atomic writes and concurrent saving."""
import os
import threading
from datetime import datetime

import pytest
from PIL import Image

from modules.errors import EaselError, InvalidInput
from modules.imaging import saving
from modules.imaging.metadata import read_image_metadata
from modules.imaging.saving import ImageSaver, next_sequence_number, output_dir, save_image

NOW = datetime(2024, 7, 27, 13, 45)


def image(color=(1, 2, 3)):
    return Image.new("RGB", (8, 8), color)


def test_first_image_in_an_empty_folder(tmp_path):
    folder = output_dir(tmp_path / "outputs", "txt2img")
    path = save_image(image(), folder, 1234567890, "p\nSteps: 1, Seed: 1, Size: 8x8", now=NOW)
    assert path == tmp_path / "outputs" / "txt2img-images" / "2024-07-27" / "00000-1234567890.png"
    assert read_image_metadata(path.read_bytes())[0] == "p\nSteps: 1, Seed: 1, Size: 8x8"


def test_running_number_is_one_past_the_largest(tmp_path):
    day = tmp_path / "2024-07-27"
    day.mkdir()
    for name in ["00003-5.png", "00041-7.jpg", "readme.txt", "grid-0099.png", "12.webp"]:
        (day / name).write_bytes(b"x")
    path = save_image(image(), tmp_path, 9, None, now=NOW)
    assert path.name == "00042-9.png"


def test_sequence_number_matches_a1111_parsing():
    assert next_sequence_number(["0001-a-b.png", "abc-5.png", "-3.png", ".hidden"]) == 2
    assert next_sequence_number(["grid-0010.png", "grid-x.png", "00050-1.png"], "grid") == 11
    assert next_sequence_number(["00005-1.png"], "grid") == 0


def test_grids_and_kinds(tmp_path):
    saver = ImageSaver()
    folder = output_dir(tmp_path, "img2img", grid=True)
    first = saver.save_grid(image(), folder, "info", now=NOW)
    second = saver.save_grid(image(), folder, "info", now=NOW)
    assert first == tmp_path / "img2img-grids" / "2024-07-27" / "grid-0000.png"
    assert second.name == "grid-0001.png"
    assert output_dir(tmp_path, "extras").name == "extras-images"
    with pytest.raises(InvalidInput, match="output kind.*txt2img, img2img, extras"):
        output_dir(tmp_path, "video")


def test_no_date_folder_no_seed_suffix_and_formats(tmp_path):
    saver = ImageSaver()
    a = saver.save_image(image(), tmp_path, None, None, prefix_date=False)
    b = saver.save_image(image(), tmp_path, 5, "x", fmt="jpg", prefix_date=False, suffix="-before-highres-fix")
    c = saver.save_image(image(), tmp_path, 6, "x", fmt="webp", prefix_date=False, decoration="a cat: v2")
    assert [a.name, b.name, c.name] == ["00000.png", "00001-5-before-highres-fix.jpg", "00002-a cat_ v2.webp"]
    assert Image.open(b).format == "JPEG" and Image.open(c).format == "WEBP"


def test_unknown_format_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidInput, match="image format"):
        save_image(image(), tmp_path, 1, None, fmt="tiff")
    assert list(tmp_path.iterdir()) == []


def test_existing_name_is_skipped(tmp_path, monkeypatch):
    """If another process took the number just picked, the next one is used and nothing is overwritten."""
    (tmp_path / "00000-1.png").write_bytes(b"theirs")
    monkeypatch.setattr(saving, "next_sequence_number", lambda names, basename="": 0)
    path = save_image(image(), tmp_path, 1, None, prefix_date=False)
    assert path.name == "00001-1.png"
    assert (tmp_path / "00000-1.png").read_bytes() == b"theirs"


def test_without_hard_links_falls_back_to_replace(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(saving.os, "link", no_links)
    saver = ImageSaver()
    paths = [saver.save_image(image(), tmp_path, 1, None, prefix_date=False) for _ in range(3)]
    assert [p.name for p in paths] == ["00000-1.png", "00001-1.png", "00002-1.png"]
    assert sorted(os.listdir(tmp_path)) == ["00000-1.png", "00001-1.png", "00002-1.png"]


def test_failure_leaves_no_partial_or_temp_file(tmp_path, monkeypatch):
    def broken_link(src, dst):
        raise FileExistsError(17, "exists")

    monkeypatch.setattr(saving.os, "link", broken_link)
    with pytest.raises(EaselError, match="no free file name"):
        save_image(image(), tmp_path, 1, None, prefix_date=False)
    assert os.listdir(tmp_path) == []


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(EaselError, match="cannot write to output folder"):
        save_image(image(), blocker, 1, None)


def test_two_threads_never_share_a_number(tmp_path):
    saver = ImageSaver(threading.Lock())
    results: list = []
    barrier = threading.Barrier(2)

    def work(color):
        barrier.wait()
        for _ in range(15):
            results.append(saver.save_image(image(color), tmp_path, color[0], "x", now=NOW))

    threads = [threading.Thread(target=work, args=(c,)) for c in [(1, 0, 0), (2, 0, 0)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(p.name for p in results)
    assert len(set(names)) == 30
    assert sorted(int(n[:5]) for n in names) == list(range(30))
    assert sorted(os.listdir(tmp_path / "2024-07-27")) == names


def test_lockless_function_is_still_safe_with_hard_links(tmp_path):
    results: list = []

    def work():
        for _ in range(10):
            results.append(save_image(image(), tmp_path, 7, None, prefix_date=False))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in results}) == 20
    assert len(os.listdir(tmp_path)) == 20
