"""A1111's `modules.ui_extensions`: the Extensions tab's "Apply and restart UI" as a function extensions call or
wrap (e.g. to block it while a long job runs). Easel's Extensions tab is its own (modules/ui/extensions_tab.py);
this applies the same choices through the App's extension manager. Easel does not restart itself: the changes
take effect at its next start, as its own Apply button says, and `shared.state.request_restart` logs that.

Other names of A1111's module (its HTML table builders) are not here; reading one says so.
"""
from __future__ import annotations

import json
import logging

from modules.errors import InvalidInput
from modules.extensions.compat import binding

log = logging.getLogger("easel.extensions")

MODES = ("none", "extra", "all")  # A1111's "Disable all extensions" radio


def check_access() -> None:
    """A1111 refuses extension changes when the server is exposed without --enable-insecure-extension-access."""
    binding.app().extensions.check_allowed("Changing extensions")


def _names(value, field: str) -> list[str]:
    """A JSON list of extension names, as A1111's page sends it.

    >>> _names('["a", "b"]', "disable_list")
    ['a', 'b']
    >>> _names('{"a": 1}', "update_list")
    Traceback (most recent call last):
    modules.errors.InvalidInput: update_list: not a JSON list of extension names: '{"a": 1}' (valid: e.g. ["name"])
    """
    try:
        names = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(field, f"not a JSON list of extension names: {value!r}", 'e.g. ["name"]')
    return names


def apply_and_restart(disable_list, update_list, disable_all) -> None:
    """A1111's Apply: update the extensions named in `update_list`, store `disable_list` and the disable-all mode,
    then ask for a restart (Easel: the changes load at its next start)."""
    check_access()
    disabled, update = _names(disable_list, "disable_list"), _names(update_list, "update_list")
    mode = disable_all or "none"
    if mode not in MODES:
        raise InvalidInput("disable_all", f"unknown mode {mode!r}", ", ".join(MODES))
    manager = binding.app().extensions
    if update:
        for outcome in manager.update(update):
            log.info("extension update: %s", outcome)
    manager.set_disabled(disabled)
    manager.set_mode(mode)
    from modules.extensions.compat import shared

    shared.state.request_restart()


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.ui_extensions.{name}: a part of A1111's Extensions tab; Easel "
                         f"builds its own in modules/ui/extensions_tab.py (docs/a1111-compat.md)")
