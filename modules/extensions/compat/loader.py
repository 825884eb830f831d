"""Imports the `scripts/*.py` of each enabled extension as A1111 does: the extension folder first on sys.path and
`scripts.basedir()` pointing at it while its files import; every Script subclass found is registered.

A file that fails to import (syntax error, missing dependency) is reported with its extension's name and skipped;
the others load.
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

from modules.extensions.compat import scripts
from modules.extensions.compat.reporting import FAILURES, register_extension_folder


@dataclass(frozen=True)
class ExtensionFolder:
    name: str
    path: Path


def script_files(folder: Path) -> list[Path]:
    directory = folder / "scripts"
    return sorted(p for p in directory.glob("*.py") if p.is_file()) if directory.is_dir() else []


def module_name(path: Path) -> str:
    """A1111 names a script module after its file (`xyz_grid.py`); a second file of that name elsewhere gets its
    extension folder's name in front, so the two never share an entry of sys.modules."""
    name = path.name
    taken = sys.modules.get(name)
    if taken is None or getattr(taken, "__file__", None) == str(path):
        return name
    return f"{path.parent.parent.name}.{name}"


def load_module(path: Path):
    """A1111's script_loading.load_module, entered in sys.modules: Gradio finds the file of a component class
    through `sys.modules[cls.__module__]` and refuses classes whose module is not there."""
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _register(module, path: Path, basedir: Path) -> int:
    from modules.extensions.compat import scripts_postprocessing

    found = 0
    for value in list(module.__dict__.values()):
        if not inspect.isclass(value) or value in (scripts.Script, scripts_postprocessing.ScriptPostprocessing):
            continue
        if issubclass(value, scripts.Script):
            scripts.scripts_data.append(scripts.ScriptClassData(value, str(path), str(basedir), module))
            found += 1
        elif issubclass(value, scripts_postprocessing.ScriptPostprocessing):
            scripts.postprocessing_scripts_data.append(scripts.ScriptClassData(value, str(path), str(basedir),
                                                                                module))
            found += 1
    return found


def load_extension_scripts(folders: list[ExtensionFolder], on_problem=None) -> None:
    """Import every script of `folders` (in load order) and register its classes; `on_problem(name, text)`."""
    scripts.scripts_data.clear()
    from modules.extensions.compat import scripts_postprocessing

    scripts_postprocessing.reset()
    scripts.postprocessing_scripts_data.clear()
    for folder in folders:
        register_extension_folder(folder.path, folder.name)
    for folder in folders:
        for path in script_files(folder.path):
            saved_path = list(sys.path)
            sys.path.insert(0, str(folder.path))
            scripts.set_current(str(folder.path), str(path))
            try:
                _register(load_module(path), path, folder.path)
            except BaseException as e:  # noqa: BLE001 - SyntaxError, ImportError, SystemExit… from extension code
                if isinstance(e, KeyboardInterrupt):
                    raise
                FAILURES.record(folder.name, f"import scripts/{path.name}", e)
                if on_problem is not None:
                    on_problem(folder.name, f"scripts/{path.name}: {type(e).__name__}: {e}")
            finally:
                sys.path[:] = saved_path
                scripts.set_current(scripts._current["basedir"], None)
    scripts.set_current(str(Path(scripts.__file__).resolve().parents[3]), None)
