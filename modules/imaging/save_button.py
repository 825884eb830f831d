"""The gallery's Save and Zip buttons (A1111's `ui_common.save_files`): the shown images, or the selected one, are
written to the `outdir_save` folder (`log/images`) under their usual output names, a row per press goes to its
`log.csv`, and Zip packs what was saved into one archive there. Returns the files for the browser to download."""
from __future__ import annotations

import csv
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.filename_pattern import apply_pattern
from modules.imaging.infotext import parse_infotext
from modules.imaging.saving import ImageSaver, JpegCopy

LOG_FIELDS = ("prompt", "seed", "width", "height", "sampler", "cfgs", "steps", "filename", "negative_prompt",
              "sd_model_name", "sd_model_hash")
ZIP_PATTERN = "[datetime]_[[model_name]]_[seed]-[seed_last]"  # A1111's default for an empty grid_zip_filename_pattern


@dataclass(frozen=True)
class SaveSettings:
    """The settings the buttons read, taken from the options at the press."""

    folder: Path
    fmt: str = "png"
    selected_only: bool = True  # save_selected_only
    write_csv: bool = True  # save_write_log_csv
    by_date: bool = False  # use_save_to_dirs_for_ui
    zip_pattern: str = ""  # grid_zip_filename_pattern
    jpeg_copy: JpegCopy | None = None  # export_for_4chan


@dataclass(frozen=True)
class SavedFiles:
    paths: tuple[Path, ...]  # the zip first when one was made, then the images in gallery order

    @property
    def message(self) -> str:
        images = [p for p in self.paths if p.suffix != ".zip"]
        return f"Saved: {images[0].name}" if images else "Nothing saved"


def chosen(count: int, selected: int, first_image: int, selected_only: bool) -> range:
    """Indices of the gallery to save: the selected image alone (when set so and it is not the grid), else all.

    >>> list(chosen(5, 2, 1, True)), list(chosen(5, 0, 1, True)), list(chosen(3, 1, 0, False))
    ([2], [0, 1, 2, 3, 4], [0, 1, 2])
    """
    if selected_only and first_image <= selected < count:
        return range(selected, selected + 1)
    return range(count)


def save_files(saver: ImageSaver, images: Sequence[Image.Image], infotexts: Sequence[str], info: Mapping,
               selected: int, settings: SaveSettings, make_zip: bool, now: datetime | None = None) -> SavedFiles:
    """Save the chosen gallery images with their infotexts (and a zip of them); one log.csv row per press."""
    if not images:
        raise InvalidInput("gallery", "there is no image to save", "generate an image first")
    now = now or datetime.now()
    first_image = int(info.get("index_of_first_image", 0))
    saved, params = [], []
    for index in chosen(len(images), selected, first_image, settings.selected_only):
        text = infotexts[index] if index < len(infotexts) else ""
        fields = parse_infotext(text) if text else {}
        params.append(fields)
        if index < first_image:
            path = saver.save_grid(images[index], settings.folder, text or None, settings.fmt, settings.by_date, now,
                                   jpeg_copy=settings.jpeg_copy)
        else:
            seed = _int(fields.get("Seed"))
            path = saver.save_image(images[index], settings.folder, seed, text or None, settings.fmt,
                                    settings.by_date, now, jpeg_copy=settings.jpeg_copy)
        saved.append(path)
    if settings.write_csv:
        append_log_row(settings.folder / "log.csv", params[0], info, saved[0].relative_to(settings.folder))
    if not make_zip:
        return SavedFiles(tuple(saved))
    return SavedFiles((write_zip(saved, settings, info, params, now), *saved))


def append_log_row(log: Path, fields: Mapping, info: Mapping, filename: Path) -> None:
    """One CSV row for a press, under A1111's header (written when the file is new or empty)."""
    new = not log.exists() or log.stat().st_size == 0
    row = (fields.get("Prompt", ""), fields.get("Seed", ""), info.get("width", ""), info.get("height", ""),
           info.get("sampler_name", ""), info.get("cfg_scale", ""), info.get("steps", ""), filename.as_posix(),
           fields.get("Negative prompt", ""), info.get("sd_model_name", ""), info.get("sd_model_hash", ""))
    with open(log, "a", encoding="utf8", newline="") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(LOG_FIELDS)
        writer.writerow(row)


def write_zip(paths: Sequence[Path], settings: SaveSettings, info: Mapping, params: Sequence[Mapping],
              now: datetime) -> Path:
    """A zip of the saved files, named by the archive pattern (seed of the first and the last saved image)."""
    seeds = [str(p.get("Seed", "")) for p in params]
    values = {"seed": seeds[0], "seed_last": seeds[-1], "model_name": info.get("sd_model_name") or "",
              "prompt": str(params[0].get("Prompt", ""))}
    name = apply_pattern(settings.zip_pattern or ZIP_PATTERN, values, now)
    target = settings.folder / f"{name}.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for path in paths:
            archive.write(path, path.relative_to(settings.folder).as_posix())
    return target


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
