"""A1111's `modules.script_loading`: import a Python file as a module (how A1111 loads scripts and preload.py)."""
from __future__ import annotations

from pathlib import Path

from modules.extensions.compat.loader import load_module as _load

loaded_scripts: dict[str, object] = {}


def load_module(path):
    module = _load(Path(path))
    loaded_scripts[str(path)] = module
    return module


def preload_extensions(extensions_dir, parser, extension_list=None) -> None:
    """Run `preload(parser)` of each extension's preload.py in `extensions_dir` (failures are logged)."""
    import logging
    import os

    if not os.path.isdir(extensions_dir):
        return
    for name in sorted(extension_list if extension_list is not None else os.listdir(extensions_dir)):
        script = os.path.join(extensions_dir, name, "preload.py")
        if not os.path.isfile(script):
            continue
        try:
            module = load_module(script)
            if hasattr(module, "preload"):
                module.preload(parser)
        except Exception:  # noqa: BLE001 - extension code
            logging.getLogger("easel.extensions").exception("preload() of %s failed", script)
