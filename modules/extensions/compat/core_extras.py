"""A1111 names that live in modules Easel's core also has (`modules.paths`, `modules.errors`, `modules.ui`): added to
those modules as attributes when extensions load, so the core modules themselves never depend on this layer."""
from __future__ import annotations

import importlib
import logging
import sys
import traceback

log = logging.getLogger("easel.extensions")


def report(message: str, *, exc_info: bool = False) -> None:
    """A1111 `errors.report`: log the message (and the exception being handled)."""
    log.error(message, exc_info=exc_info)


def display(e: Exception, task, *, full_traceback: bool = False) -> None:
    log.error("%s: %s\n%s", task, e, "".join(traceback.format_exception(type(e), e, e.__traceback__)))


def print_error_explanation(message: str) -> None:
    log.error(message)


def run(code, task: str) -> None:
    try:
        code()
    except Exception as e:  # noqa: BLE001 - A1111's errors.run reports and goes on
        display(e, task)


def _extend_packages() -> None:
    """A1111's modules/options.py and modules/extensions.py share their names with Easel's packages: their
    public names are added to those packages (never replacing one Easel has)."""
    from modules.extensions.compat import a1111_extensions, a1111_options

    for package_name, names in (("modules.options", a1111_options.NAMES),
                                ("modules.extensions", a1111_extensions.NAMES)):
        package = importlib.import_module(package_name)
        for name, value in names.items():
            if not hasattr(package, name):
                setattr(package, name, value)
    extensions = importlib.import_module("modules.extensions")
    if "__getattr__" not in vars(extensions):
        extensions.__getattr__ = a1111_extensions.package_getattr  # `extensions.extensions`, read when used


def extend_core_modules(app) -> None:
    paths = importlib.import_module("modules.paths")
    p = app.paths
    for name, value in {"script_path": str(p.install_dir), "data_path": str(p.data_dir),
                        "models_path": str(p.models_dir), "extensions_dir": str(p.extensions_dir),
                        "extensions_builtin_dir": str(p.builtin_extensions_dir), "sd_path": str(p.install_dir),
                        "sd_configs_path": str(p.configs_dir), "paths": {}}.items():
        setattr(paths, name, value)
    _extend_packages()
    errors = importlib.import_module("modules.errors")
    for fn in (report, display, print_error_explanation, run):
        if not hasattr(errors, fn.__name__):
            setattr(errors, fn.__name__, fn)
    ui = importlib.import_module("modules.ui")
    try:
        ui_common = importlib.import_module("modules.extensions.compat.ui_common")
    except ImportError:
        return
    symbols = tuple(name for name in vars(ui_common) if name.endswith("_symbol"))  # A1111's ui.py has them too
    for name in ("create_refresh_button", "plaintext_to_html", "create_output_panel", "gr_show", "versions_html",
                 *symbols):
        if hasattr(ui_common, name) and not hasattr(ui, name):
            setattr(ui, name, getattr(ui_common, name))
    sys.modules.setdefault("modules.ui", ui)
