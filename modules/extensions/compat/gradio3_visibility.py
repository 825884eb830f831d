"""Gradio 3 kept a `visible=False` component in the page, only hidden; A1111 extensions' scripts find such
elements by elem_id and show them later. Gradio 6 leaves `visible=False` out of the page altogether, and its
`visible="hidden"` is Gradio 3's behaviour. So for extension code (the call comes from a file of an extension
folder), a `visible=False` given to a constructor, to Gradio 3's `gr.X.update`, or returned in an update by the
extension's event handlers becomes "hidden". Easel's own page keeps Gradio's meaning.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys

from modules.extensions.compat import reporting

STACK_DEPTH = 12  # frames looked at for an extension's file (constructor → shim → Gradio wrappers → caller)


def from_extension(skip: int = 2) -> bool:
    """Whether one of the calling frames is code of an extension folder."""
    folders = tuple(str(f) + os.sep for f in reporting.extension_folders())
    if not folders:
        return False
    frame = sys._getframe(skip)
    for _ in range(STACK_DEPTH):
        if frame is None:
            return False
        if frame.f_code.co_filename.startswith(folders):
            return True
        frame = frame.f_back
    return False


def hidden(kwargs: dict) -> dict:
    """`kwargs` with visible=False turned into visible="hidden" (the same dict when there is nothing to do)."""
    return {**kwargs, "visible": "hidden"} if kwargs.get("visible") is False else kwargs


def _hide_in(value):
    """An event's return value with every update's visible=False made "hidden"."""
    if isinstance(value, dict):
        if value.get("__type__") == "update":
            return hidden(value)
        return {key: _hide_in(v) for key, v in value.items()}  # {component: update}
    if isinstance(value, (list, tuple)):
        return type(value)(_hide_in(v) for v in value)
    return value


def keeping_in_page(fn):
    """`fn` (an extension's event handler) with its updates' visible=False made "hidden"."""
    if not callable(fn) or getattr(fn, "__easel_hidden__", False):
        return fn
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            return _hide_in(await fn(*args, **kwargs))
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for value in fn(*args, **kwargs):
                yield _hide_in(value)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return _hide_in(fn(*args, **kwargs))
    wrapper.__easel_hidden__ = True
    return wrapper
