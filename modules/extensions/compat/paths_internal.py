"""A1111's `modules.paths_internal`: where things live (script_path, data_path, models_path, extensions_dir, …),
read from the App's Paths; before an App exists (an extension's preload.py) from the command line, as A1111."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modules.extensions.compat import binding
from modules.paths import INSTALL_DIR, Paths

script_path = str(INSTALL_DIR)
modules_path = str(INSTALL_DIR / "modules")
sd_configs_path = str(INSTALL_DIR / "configs")
sd_default_config = os.path.join(sd_configs_path, "v1-inference.yaml")
sd_model_file = os.path.join(script_path, "model.ckpt")
default_sd_model_file = sd_model_file
extensions_builtin_dir = str(INSTALL_DIR / "extensions-builtin")
cwd = os.getcwd()


def current_paths() -> Paths:
    """The App's Paths, or before an App exists those the command line gives (A1111's paths_internal)."""
    if binding.is_bound():
        return binding.app().paths
    from modules.extensions.compat import launch

    return Paths(data_dir=Path(launch.data_path))


FONT_CANDIDATES = ("/usr/share/fonts/truetype/roboto/unhinted/RobotoTTF/Roboto-Regular.ttf",
                   "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                   "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                   "/Library/Fonts/Arial.ttf", "C:/Windows/Fonts/arial.ttf")


def _font_file() -> str:
    """A1111 ships Roboto for grid labels; Easel ships no font file: the `font` setting's file, else the first
    common system TrueType font found (else A1111's path, which then does not exist)."""
    from modules.extensions.compat.images import _opt

    for candidate in (_opt("font", ""), *FONT_CANDIDATES):
        if candidate and os.path.isfile(candidate):
            return candidate
    return os.path.join(modules_path, "Roboto-Regular.ttf")


_DYNAMIC = {
    "roboto_ttf_file": _font_file,
    "data_path": lambda: str(current_paths().data_dir),
    "models_path": lambda: str(current_paths().models_dir),
    "extensions_dir": lambda: str(current_paths().extensions_dir),
    "config_states_dir": lambda: str(current_paths().data_dir / "config_states"),
    "default_output_dir": lambda: str(current_paths().outputs_dir),
    "config_json": lambda: str(current_paths().config_json),
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.paths_internal' has no attribute {name!r}")


def normalized_filepath(filepath) -> str:
    return str(Path(filepath).absolute())
