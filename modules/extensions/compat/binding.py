"""The one piece of global state of the compatibility layer: the App that A1111's module globals are views onto.

A1111 extensions read `shared.opts`, `shared.state`, `shared.sd_model` as globals; here each is a view that asks
`app()` at the moment it is read. The core never imports this; webui.py binds the App once at start-up.
"""
from __future__ import annotations

from typing import Any

_bound: dict[str, Any] = {"app": None, "host": None}


def bind(app, host=None) -> None:
    _bound["app"], _bound["host"] = app, host


def unbind() -> None:
    _bound["app"] = _bound["host"] = None


def app():
    """The bound App; extensions touching Easel before start-up get a clear error instead of None."""
    bound = _bound["app"]
    if bound is None:
        raise RuntimeError("Easel's extension layer is not bound to an App yet (extensions run after start-up)")
    return bound


def host():
    """The script host (modules/extensions/compat/host.py) that runs scripts and hooks, or None."""
    return _bound["host"]


def is_bound() -> bool:
    return _bound["app"] is not None
