"""`preload.py` of each extension that will load: `preload(parser)` adds its command-line flags before Easel
parses them (A1111). This runs before the App exists, so the disabled list is read straight from config.json;
a failing preload.py is logged and reported, and never stops start-up."""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import re
from pathlib import Path

from modules.extensions.discovery import discover
from modules.extensions.manager import DISABLED_KEY, MODE_KEY
from modules.extensions.ordering import load_order

log = logging.getLogger("easel.extensions")

PRELOAD = "preload.py"


def stored_settings(config_json: Path) -> tuple[set[str], str]:
    """(disabled extension names, disable_all_extensions) as config.json has them; defaults when unreadable."""
    try:
        data = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set(), "none"
    if not isinstance(data, dict):
        return set(), "none"
    disabled = data.get(DISABLED_KEY) or []
    mode = data.get(MODE_KEY)
    return ({x for x in disabled if isinstance(x, str)} if isinstance(disabled, list) else set(),
            mode if mode in ("none", "extra", "all") else "none")


def loading_extensions(paths, flags) -> list:
    """The extensions the manager will load, in its order (same rules, read without an Options object)."""
    disabled, mode = stored_settings(paths.config_json)
    if getattr(flags, "disable_all_extensions", False):
        mode = "all"
    elif getattr(flags, "disable_extra_extensions", False) and mode != "all":
        mode = "extra"
    found = discover(paths)
    for ext in found:
        ext.enabled = ext.name not in disabled

    def active(ext) -> bool:
        return ext.enabled and mode != "all" and not (mode == "extra" and not ext.is_builtin)

    return load_order(found, active).loaded


def run_preload(ext, parser: argparse.ArgumentParser) -> str | None:
    """Import ext's preload.py and call preload(parser); a message when that fails."""
    file = ext.path / PRELOAD
    module_name = "easel_preload_" + re.sub(r"\W", "_", ext.name)
    try:
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {file}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        hook = getattr(module, "preload", None)
        if hook is not None:
            hook(parser)
    except (Exception, SystemExit) as e:  # an extension's bug must not stop Easel
        log.error("extension %s: preload.py failed: %s: %s", ext.name, type(e).__name__, e, exc_info=True)
        return f"preload.py failed: {type(e).__name__}: {e}"
    return None


def preload_extensions(parser: argparse.ArgumentParser, paths, flags) -> dict[str, str]:
    """Run every loading extension's preload.py on `parser`; returns {extension name: problem}."""
    problems = {}
    extensions = [ext for ext in loading_extensions(paths, flags) if (ext.path / PRELOAD).is_file()]
    if extensions:
        from modules.extensions.compat import install_aliases

        install_aliases()  # preload.py files import launch, modules.paths_internal, … like scripts do
    for ext in extensions:
        if problem := run_preload(ext, parser):
            problems[ext.name] = problem
    return problems
