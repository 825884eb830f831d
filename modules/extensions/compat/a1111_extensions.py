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
