"""Imports the `scripts/*.py` of each enabled extension as A1111 does: the extension folder first on sys.path and
`scripts.basedir()` pointing at it while its files import; every Script subclass found is registered.

A file that fails to import (syntax error, missing dependency) is reported with its extension's name and skipped;
the others load.
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from modules.extensions.compat import scripts
from modules.extensions.compat.hook_spelling import misspelled_hooks
from modules.extensions.compat.reporting import FAILURES, register_extension_folder

log = logging.getLogger("easel.extensions")


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


def _warn_misspelled(extension: str, path: Path, cls: type, base: type, on_warning=None) -> None:
    for method, hook in misspelled_hooks(cls, base):
        text = (f"scripts/{path.name}: {cls.__name__}.{method} is no {base.__name__} hook, so it never runs; "
                f"did you mean {hook}?")
        if on_warning is not None:
            on_warning(extension, text)
        else:
            log.warning("extension %s: %s", extension, text)


def _register(module, path: Path, basedir: Path, extension: str = "", on_warning=None) -> int:
    from modules.extensions.compat import scripts_postprocessing

    found = 0
    for value in list(module.__dict__.values()):
        if not inspect.isclass(value) or value in (scripts.Script, scripts_postprocessing.ScriptPostprocessing):
            continue
        if value.__module__ == module.__name__:  # defined here, not imported from another script
            for base in (scripts.Script, scripts_postprocessing.ScriptPostprocessing):
                if issubclass(value, base):
                    _warn_misspelled(extension or basedir.name, path, value, base, on_warning)
        if issubclass(value, scripts.Script):
            scripts.scripts_data.append(scripts.ScriptClassData(value, str(path), str(basedir), module))
            found += 1
        elif issubclass(value, scripts_postprocessing.ScriptPostprocessing):
            scripts.postprocessing_scripts_data.append(scripts.ScriptClassData(value, str(path), str(basedir),
                                                                                module))
            found += 1
    return found


def load_extension_scripts(folders: list[ExtensionFolder], on_problem=None, on_warning=None) -> None:
    """Import every script of `folders` (in load order) and register its classes; `on_problem(name, text)` hears
    a script that did not import (FAILURES records it too), `on_warning(name, text)` what is wrong with one that
    did (a misspelled hook; logged when nobody listens)."""
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
                _register(load_module(path), path, folder.path, folder.name, on_warning)
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
