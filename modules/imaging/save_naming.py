"""Where a generated image is saved and under what name, by A1111's "Saving images/grids" and "Saving to a
directory" settings (A1111's `images.save_image`): the subfolder pattern (`save_to_dirs`,
`directories_filename_pattern`), the file name pattern (`samples_filename_pattern`), the running number
(`save_images_add_number`), the grid's short name (`grid_extended_filename`), the encoder settings
(`jpeg_quality`, `webp_lossless`) and the `.txt` copy of the infotext (`save_txt`). Pure: no file is touched here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modules.errors import InvalidInput
from modules.imaging.filename_pattern import MAX_PROMPT_WORDS, RE_TAG, apply_pattern
from modules.imaging.saving import DEFAULT_RULES, FilenameRules

FOLDER_PATTERN_RULE = "folder names and [tags], without '..' or a leading '/'"


def check_folder_pattern(pattern: str, key: str = "directories_filename_pattern") -> None:
    """A subfolder pattern may not lead out of the output folder: its own text (tag values cannot hold a '/')
    must not climb with '..' or start at a root. InvalidInput naming `key` otherwise.

    >>> check_folder_pattern("[date]/[model_name]")
    >>> check_folder_pattern("../../etc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    modules.errors.InvalidInput: directories_filename_pattern: '../../etc' leads out of the output folder ...
    """
    text = RE_TAG.sub("x", pattern)
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "\\")) or ":" in parts[0] or any(part.strip() == ".." for part in parts):
        raise InvalidInput(key, f"{pattern!r} leads out of the output folder", FOLDER_PATTERN_RULE)


@dataclass(frozen=True)
class SavingSettings:
    """A1111's saving settings, with A1111's defaults."""

    filename_pattern: str = ""  # samples_filename_pattern; "" means "[seed]" (or "[seed]-[prompt_spaces]")
    save_to_dirs: bool = True
    grid_save_to_dirs: bool = True
    directories_pattern: str = "[date]"  # directories_filename_pattern; "" means "[prompt_words]"
    max_prompt_words: int = MAX_PROMPT_WORDS  # directories_max_prompt_words
    add_number: bool = True  # save_images_add_number
    grid_extended_filename: bool = False
    jpeg_quality: int = 80
    webp_lossless: bool = False
    save_txt: bool = False

    @classmethod
    def from_options(cls, opts) -> SavingSettings:
        """From anything answering `.get(key)` (a settings snapshot, the option store, a dict)."""
        def get(key: str, default):
            value = opts.get(key)
            return default if value is None else value

        d = cls()
        return cls(str(get("samples_filename_pattern", d.filename_pattern)),
                   bool(get("save_to_dirs", d.save_to_dirs)), bool(get("grid_save_to_dirs", d.grid_save_to_dirs)),
                   str(get("directories_filename_pattern", d.directories_pattern)),
                   int(get("directories_max_prompt_words", d.max_prompt_words)),
                   bool(get("save_images_add_number", d.add_number)),
                   bool(get("grid_extended_filename", d.grid_extended_filename)),
                   int(get("jpeg_quality", d.jpeg_quality)), bool(get("webp_lossless", d.webp_lossless)),
                   bool(get("save_txt", d.save_txt)))

    def subfolder(self, values: Mapping[str, Any], now: datetime, *, grid: bool = False, no_prompt: bool = False,
                  rules: FilenameRules = DEFAULT_RULES, enabled: bool | None = None) -> str:
        """The subfolder an image goes to ("" for none); `enabled` overrides the save_to_dirs settings (A1111's
        `save_to_dirs` argument of `save_image`).

        >>> when = datetime(2026, 1, 2)
        >>> SavingSettings().subfolder({}, when), SavingSettings(save_to_dirs=False).subfolder({}, when)
        ('2026-01-02', '')
        >>> SavingSettings(directories_pattern="").subfolder({"prompt": "a red cube, studio"}, when)
        'a red cube studio'
        """
        if enabled is None:
            enabled = self.grid_save_to_dirs if grid else self.save_to_dirs and not no_prompt
        if not enabled:
            return ""
        check_folder_pattern(self.directories_pattern)
        values = {"max_prompt_words": self.max_prompt_words, **values}
        return apply_pattern(self.directories_pattern or "[prompt_words]", values, now, rules).lstrip(" ").rstrip(
            "\\ /")

    def decoration(self, values: Mapping[str, Any], now: datetime, *, short: bool = False,
                   rules: FilenameRules = DEFAULT_RULES) -> str:
        """What follows the number in the file name (or is the whole name without a number): the file name pattern
        with its values; "" for a short name (a grid without `grid_extended_filename`, or no seed).

        >>> when, values = datetime(2026, 1, 2), {"seed": 42, "prompt": "a cat", "steps": 20}
        >>> SavingSettings().decoration(values, when), SavingSettings(save_to_dirs=False).decoration(values, when)
        ('42', '42-a cat')
        >>> SavingSettings(filename_pattern="[steps]_[prompt]").decoration(values, when)
        '20_a_cat'
        """
        if short or values.get("seed") is None:
            return ""
        fallback = "[seed]" if self.save_to_dirs else "[seed]-[prompt_spaces]"
        return apply_pattern(self.filename_pattern or fallback, values, now, rules)

    def numbered(self, decoration: str) -> bool:
        """Whether the name starts with the running number (always when there is nothing else to name it by)."""
        return self.add_number or decoration == ""
