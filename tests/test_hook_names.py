"""Hook names are checked where a hook is registered and where it is dispatched: a misspelled name fails at once,
instead of a hook that silently never runs (docs/contributing.md, section 2)."""
from __future__ import annotations

import pytest

from modules.extensions.compat import script_callbacks
from modules.pipeline.hooks import HOOK_POINTS, NO_HOOKS, RunContext, UnknownHookPoint, check_point


def test_registering_a_callback_under_a_misspelled_name_fails():
    """What an extension does at import (`script_callbacks.on_before_image_saved(fn)`), misspelled: the import
    fails, and the extension loader reports the extension instead of loading it with a hook that never runs."""
    with pytest.raises(AttributeError, match="on_before_image_save"):
        script_callbacks.on_before_image_save(lambda params: None)
    with pytest.raises(KeyError):
        script_callbacks.has("before_image_save")


def test_each_callback_event_registers_under_its_own_name():
    for event in script_callbacks.NAMES:
        register = getattr(script_callbacks, "on_before_reload" if event == "on_reload" else f"on_{event}")

        def callback(*args, **kwargs):
            return None

        held = script_callbacks.callback_map[f"callbacks_{event}"]  # A1111's table, one list per event
        register(callback)
        assert callback in [c.callback for c in held], event
        script_callbacks.remove_callbacks_for_function(callback)
        assert callback not in [c.callback for c in held], event


def test_dispatching_a_misspelled_point_fails() -> None:  # annotated, so mypy checks the calls below
    ctx = RunContext(kind="txt2img", request=None, opts=None, job=None)
    for point in HOOK_POINTS:
        NO_HOOKS.call(point, ctx)
        assert check_point(point) == point
    with pytest.raises(UnknownHookPoint, match="'postproces_image'"):
        NO_HOOKS.call("postproces_image", ctx)  # type: ignore[arg-type]  # mypy refuses it too: not a HookPoint
