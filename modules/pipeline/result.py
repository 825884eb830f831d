"""What a generation returns: the images with their infotexts, seeds and where they were saved."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class GenerationResult:
    images: list  # PIL images, one per generated image, in seed order
    infotexts: list[str]
    all_prompts: list[str]
    all_negative_prompts: list[str]
    all_seeds: list[int]
    all_subseeds: list[int]
    info: dict[str, Any]  # A1111's `info` fields
    saved_paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    grid: Any = None  # PIL image of all `images` (A1111's batch grid, `return_grid`), shown before them; or None
    grid_infotext: str = ""
    grid_path: Path | None = None  # where the grid was saved (grid_save)

    @property
    def shown_paths(self) -> list[Path | None]:
        """The saved file of each of `shown_images` (None where it was not saved), for downloads under its name."""
        saved = len(self.saved_paths) == len(self.images)
        images: list[Path | None] = list(self.saved_paths) if saved else [None] * len(self.images)
        return [self.grid_path, *images] if self.grid is not None else images

    @property
    def shown_images(self) -> list:
        """What the gallery and the API show, as A1111's `Processed.images`: the grid first when there is one."""
        return [self.grid, *self.images] if self.grid is not None else list(self.images)

    @property
    def shown_infotexts(self) -> list[str]:
        """The infotexts of `shown_images`, one each."""
        return [self.grid_infotext, *self.infotexts] if self.grid is not None else list(self.infotexts)

    def info_json(self) -> str:
        return json.dumps(self.info, ensure_ascii=False)
