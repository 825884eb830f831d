"""The results column as A1111 users know it: a batch grid first, downloads under the saved names, Save and Zip
into log/images with log.csv, and the "Time taken" line."""
from __future__ import annotations

import csv
import time
import zipfile
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from PIL import Image

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import set_number, small_txt2img, wait_for_infotext


def gallery_names(page) -> list[str]:
    """The file names behind the gallery's thumbnails (what the browser's download saves them as)."""
    sources = page.eval_on_selector_all("#txt2img_gallery .thumbnail-item img", "els => els.map(e => e.src)")
    return [PurePosixPath(unquote(urlparse(src).path)).name for src in sources]


def wait_for_files(folder, pattern: str, count: int, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern)) if folder.exists() else []
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"expected {count} × {pattern} in {folder}, found {len(found)}")


def test_batch_grid_downloads_save_and_zip(page, server):
    started = time.time() - 1
    small_txt2img(page, "a grid of red circles", seed=4321, steps=2)
    set_number(page, "txt2img_batch_count", 2)
    set_number(page, "txt2img_batch_size", 2)
    page.locator("#txt2img_generate").click()
    wait_for_infotext(page, "html_info_txt2img", "Seed: 4321")
    page.wait_for_function("() => document.querySelectorAll('#txt2img_gallery .thumbnail-item img').length == 5")
    assert "Time taken:" in page.locator("#html_log_txt2img").inner_text()

    grids = [p for p in (server.data_dir / "outputs" / "txt2img-grids").rglob("grid-*.png")
             if p.stat().st_mtime >= started]
    [grid] = grids
    with Image.open(grid) as on_disk:
        assert on_disk.size == (128, 128) and "Seed: 4321" in on_disk.info["parameters"]
    samples = sorted(p.name for p in (server.data_dir / "outputs" / "txt2img-images").rglob("*.png")
                     if p.stat().st_mtime >= started)
    names = gallery_names(page)
    assert names[0] == grid.name and sorted(names[1:]) == samples  # downloads keep the saved names

    log_images = server.data_dir / "log" / "images"
    title = page.locator("#save_txt2img").get_attribute("title") or ""
    assert title.startswith("Save the image to a dedicated directory ("), title  # javascript/hints.js sets it
    page.locator("#save_txt2img").click()  # the grid is selected: every shown image is saved
    saved = wait_for_files(log_images, "*.png", 5)
    wait_for_infotext(page, "html_log_txt2img", "Saved: ")
    with open(log_images / "log.csv", encoding="utf8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][:3] == ["prompt", "seed", "width"] and rows[1][0] == "a grid of red circles"
    assert rows[1][1] == "4321" and len(rows) == 2

    page.locator("#save_zip_txt2img").click()
    [archive] = wait_for_files(log_images, "*.zip", 1)
    page.wait_for_selector("#download_files_txt2img a", timeout=30_000)
    with zipfile.ZipFile(archive) as packed:
        assert len(packed.namelist()) == 5 and all(n.endswith(".png") for n in packed.namelist())
    assert len(list(log_images.glob("*.png"))) == len(saved) + 5
    page.locator("#txt2img_gallery .thumbnail-item").first.click()  # the preview, with its icon buttons
    page.wait_for_function("() => [...document.querySelectorAll('#txt2img_gallery [aria-label], #txt2img_gallery "
                           "[title]')].some(e => (e.getAttribute('aria-label') || e.title).toLowerCase()"
                           ".includes('download'))")
    labels = page.eval_on_selector_all("#txt2img_gallery [aria-label], #txt2img_gallery [title]",
                                       "els => els.map(e => e.getAttribute('aria-label') || e.title).join('|')")
    assert "download" in labels.lower() and "share" not in labels.lower(), labels  # nothing to share locally
    screenshot(page, "txt2img_batch_grid_saved")
