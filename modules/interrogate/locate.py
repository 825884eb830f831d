"""Where the interrogation models live under the data dir's `models/` (A1111's folder names), and the 422 a
request gets when one is missing: it names the folder and what to put there. Nothing is ever downloaded."""
from __future__ import annotations

import json
from pathlib import Path

from modules.errors import InvalidInput

DEEPBOORU_DIR = "torch_deepdanbooru"
DEEPBOORU_FILE = "model-resnet_custom_v3.pt"
BLIP_DIR = "BLIP"
CLIP_DIR = "CLIP"
CATEGORIES_DIR = "interrogate"
HF_HINTS = {"blip": "a Hugging Face BLIP captioning folder (config.json, model.safetensors, tokenizer files), "
                    "e.g. Salesforce/blip-image-captioning-large",
            "clip": "a Hugging Face CLIP folder (config.json, model.safetensors, tokenizer files), "
                    "e.g. openai/clip-vit-large-patch14"}


def deepbooru_file(models_dir: Path) -> Path:
    """A1111's tagger file; another `.pt` in the folder is taken when that name is absent (as A1111 lists them)."""
    folder = Path(models_dir) / DEEPBOORU_DIR
    preferred = folder / DEEPBOORU_FILE
    if preferred.is_file():
        return preferred
    others = sorted(p for p in folder.glob("*.pt") if p.is_file()) if folder.is_dir() else []
    if others:
        return others[0]
    raise InvalidInput("model", f"deepdanbooru needs its model file: put {DEEPBOORU_FILE} (A1111's "
                                f"TorchDeepDanbooru release) in {folder}")


def model_type(folder: Path) -> str | None:
    """The `model_type` of a Hugging Face folder's config.json, or None when there is no readable one."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config.get("model_type") if isinstance(config, dict) else None


def hf_folder(models_dir: Path, subdir: str, kind: str) -> Path:
    """The first folder (by name) under models/<subdir> whose config.json says `model_type: kind`; the folder
    itself counts when it holds the config directly."""
    root = Path(models_dir) / subdir
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())] if root.is_dir() else []
    for folder in candidates:
        if model_type(folder) == kind:
            return folder
    found = sorted(p.name for p in root.glob("*.pth")) if root.is_dir() else []
    note = f"; {', '.join(found)} is A1111's original checkpoint, which Easel does not read" if found else ""
    raise InvalidInput("model", f"clip interrogation needs {HF_HINTS[kind]} in a folder under {root}{note}")


def categories_dir(models_dir: Path) -> Path:
    return Path(models_dir) / CATEGORIES_DIR
