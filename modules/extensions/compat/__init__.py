"""A1111's module names (COMPAT §7) for extensions, as thin views onto the App. Only extensions import these; the
core never does. `install_aliases()` makes `modules.shared`, `modules.scripts`, … and `launch` resolve here."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# A1111 name → module in this folder. Names a core module already has (modules.paths, modules.ui, modules.errors)
# are not aliased: `core_extras.extend_core_modules` adds A1111's attributes to those instead.
ALIASES = {
    "modules.scripts": "scripts",
    "modules.scripts_postprocessing": "scripts_postprocessing",
    "modules.script_callbacks": "script_callbacks",
    "modules.shared": "shared",
    "modules.shared_state": "shared",
    "modules.processing": "processing",
    "modules.images": "images",
    "modules.ui_components": "ui_components",
    "modules.ui_common": "ui_common",
    "modules.sd_samplers": "sd_samplers",
    "modules.sd_models": "sd_models",
    "modules.sd_vae": "sd_vae",
    "modules.sd_schedulers": "sd_schedulers",
    "modules.devices": "devices",
    "modules.paths_internal": "paths_internal",
    "modules.infotext_utils": "infotext_utils",
    "modules.generation_parameters_copypaste": "infotext_utils",
    "modules.call_queue": "call_queue",
    "modules.cache": "cache",
    "modules.hashes": "hashes",
    "launch": "launch",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):  # the target module ran when it was imported
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        local = ALIASES.get(fullname)
        if local is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(f"{__name__}.{local}"))


def install_aliases() -> None:
    """Make A1111's module names importable (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def uninstall_aliases() -> None:
    """For tests: forget the aliases and the modules imported under them."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AliasFinder)]
    for name in [n for n, local in ALIASES.items() if local is not None]:
        sys.modules.pop(name, None)
