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
    info: dict[str, Any]  # A1111's `info` fields (COMPAT §6)
    saved_paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False

    def info_json(self) -> str:
        return json.dumps(self.info, ensure_ascii=False)
