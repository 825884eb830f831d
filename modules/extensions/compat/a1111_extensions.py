"""A1111's `modules.extensions` names (`active()`, `extensions`, `Extension`, `find_extension`), added to Easel's
own `modules.extensions` package when extensions load (core_extras.py): that package is Easel's manager, whose
Extension rows already carry A1111's attributes (name, path, enabled, is_builtin, remote, branch, version …)."""
from __future__ import annotations

import os

from modules.extensions.compat import binding
from modules.extensions.discovery import Extension  # noqa: F401 - A1111 name


def _manager():
    return binding.app().extensions


def list_extensions() -> None:
    _manager().refresh()


def active() -> list:
    """The enabled extensions, in load order."""
    return list(_manager().enabled())


def find_extension(filename: str):
    """The extension whose folder holds `filename`, or None."""
    path = os.path.abspath(filename)
    for ext in _manager().all():
        if path == str(ext.path) or path.startswith(str(ext.path) + os.sep):
            return ext
    return None


def list_files(ext, subdir: str, extension: str) -> list:
    """A1111's Extension.list_files: the files of `ext/subdir` ending with `extension`, with their folder."""
    from modules.extensions.compat.scripts import ScriptFile

    folder = os.path.join(str(ext.path), subdir)
    if not os.path.isdir(folder):
        return []
    return [ScriptFile(str(ext.path), name, os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if name.endswith(extension) and os.path.isfile(os.path.join(folder, name))]


_DYNAMIC = {
    "extensions": lambda: list(_manager().all()),
    "extensions_dir": lambda: str(binding.app().paths.extensions_dir),
    "extensions_builtin_dir": lambda: str(binding.app().paths.builtin_extensions_dir),
}

NAMES = {"active": active, "list_extensions": list_extensions, "find_extension": find_extension,
         "Extension": Extension}


def package_getattr(name: str):
    """`__getattr__` for Easel's modules.extensions package: A1111's dynamic names, else the usual error."""
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.extensions' has no attribute {name!r}")
