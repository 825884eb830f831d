"""The one piece of global state of the compatibility layer: the App that A1111's module globals are views onto.

A1111 extensions read `shared.opts`, `shared.state`, `shared.sd_model` as globals; here each is a view that asks
`app()` at the moment it is read. The core never imports this; webui.py binds the App once at start-up.

Several Apps can live in one process (tests, a cluster worker beside its server): the last one bound answers
outside a job, and while a job runs, the script host running it (`running(host)`, entered by
modules/extensions/compat/host.py) answers for its own App, so an older App's jobs never run through a newer
App's host, options or models.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any

_bound: dict[str, Any] = {"app": None, "host": None}
_running: ContextVar[Any] = ContextVar("easel_compat_running_host", default=None)
_overrides: ContextVar[Any] = ContextVar("easel_compat_overrides", default=None)


def bind(app, host=None) -> None:
    _bound["app"], _bound["host"] = app, host


def unbind() -> None:
    _bound["app"] = _bound["host"] = None


@contextlib.contextmanager
def running(host):
    """While a job of `host`'s App runs on this thread: `host()` and `app()` answer with that host and its App."""
    token = _running.set(host)
    try:
        yield host
    finally:
        _running.reset(token)


@contextlib.contextmanager
def overriding(values):
    """While one `process_images` runs on this thread: `values` (its override_settings, checked and typed) are
    what `shared.opts` reads for those keys, as A1111 set them on its global opts for that call."""
    token = _overrides.set(values)
    try:
        yield values
    finally:
        _overrides.reset(token)


def overrides():
    """The running `process_images`' override_settings ({key: value}), or None."""
    return _overrides.get()


def app():
    """The App of the running job, else the bound App; extensions touching Easel before start-up get a clear
    error instead of None."""
    current = _running.get()
    bound = current.app if current is not None else _bound["app"]
    if bound is None:
        raise RuntimeError("Easel's extension layer is not bound to an App yet (extensions run after start-up)")
    return bound


def host():
    """The script host (modules/extensions/compat/host.py) running this thread's job, else the bound one, or None."""
    current = _running.get()
    return current if current is not None else _bound["host"]


def is_bound() -> bool:
    return _running.get() is not None or _bound["app"] is not None
