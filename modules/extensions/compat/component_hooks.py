"""A1111 calls `before_component` / `after_component` (scripts and callbacks) around the creation of every Gradio
component, with the component's keyword arguments (elem_id above all). This patch of Gradio's base classes is the
compatibility layer's to own; `remove()` undoes it (tests)."""
from __future__ import annotations

import functools

from modules.extensions.compat import script_callbacks, scripts

_saved: dict = {}


def _wrap(original):
    @functools.wraps(original)
    def init(self, *args, **kwargs):
        runner = scripts.scripts_current
        if runner is not None:
            runner.before_component(self, **kwargs)
        script_callbacks.before_component_callback(self, **kwargs)
        result = original(self, *args, **kwargs)
        script_callbacks.after_component_callback(self, **kwargs)
        if runner is not None:
            runner.after_component(self, **kwargs)
        return result

    init.easel_component_hook = True
    return init


def install() -> None:
    from gradio.blocks import BlockContext
    from gradio.components.base import Component

    for cls in (Component, BlockContext):
        if not getattr(cls.__init__, "easel_component_hook", False):
            _saved[cls] = cls.__init__
            cls.__init__ = _wrap(cls.__init__)


def remove() -> None:
    for cls, original in _saved.items():
        cls.__init__ = original
    _saved.clear()
