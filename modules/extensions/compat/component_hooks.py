"""A1111 calls `before_component` / `after_component` (scripts and callbacks) around the creation of every Gradio
component, with the component's keyword arguments (elem_id above all). This patch of Gradio's base classes is the
compatibility layer's to own; `remove()` undoes it (tests).

Gradio 6 also builds a component again, with its first keyword arguments, each time an event handler's update
reaches it (`Blocks.postprocess_data`); Gradio 3 never did, so the hooks do not run for those: an extension that
finds a component by elem_id would otherwise hear of it again, outside any Blocks, while a request is answered."""
from __future__ import annotations

import functools
from contextvars import ContextVar

from modules.extensions.compat import script_callbacks, scripts

_saved: dict = {}
_answering_update: ContextVar[bool] = ContextVar("easel_answering_update", default=False)


def _wrap(original):
    @functools.wraps(original)
    def init(self, *args, **kwargs):
        if _answering_update.get():
            return original(self, *args, **kwargs)
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


def _wrap_postprocess(original):
    @functools.wraps(original)
    async def postprocess_data(self, *args, **kwargs):
        token = _answering_update.set(True)
        try:
            return await original(self, *args, **kwargs)
        finally:
            _answering_update.reset(token)

    postprocess_data.easel_component_hook = True
    return postprocess_data


def install() -> None:
    from gradio.blocks import BlockContext, Blocks
    from gradio.components.base import Component

    for cls, name, wrap in ((Component, "__init__", _wrap), (BlockContext, "__init__", _wrap),
                            (Blocks, "postprocess_data", _wrap_postprocess)):
        if not getattr(getattr(cls, name), "easel_component_hook", False):
            _saved[cls, name] = getattr(cls, name)
            setattr(cls, name, wrap(getattr(cls, name)))


def remove() -> None:
    for (cls, name), original in _saved.items():
        setattr(cls, name, original)
    _saved.clear()
