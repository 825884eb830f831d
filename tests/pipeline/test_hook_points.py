"""Hook point names are checked: a misspelled point fails loudly instead of a hook that never runs."""
from __future__ import annotations

import pytest

from modules.extensions.compat.host import CompatHooks
from modules.pipeline.hooks import HOOK_POINTS, NO_HOOKS, RunContext, UnknownHookPoint


def test_a_misspelled_point_fails_without_extensions():
    ctx = RunContext(kind="txt2img", request=None, opts=None, job=None)
    NO_HOOKS.call("postprocess", ctx)
    with pytest.raises(UnknownHookPoint, match="postproces'"):
        NO_HOOKS.call("postproces", ctx)


def test_a_misspelled_point_fails_with_extensions():
    hooks = CompatHooks.__new__(CompatHooks)  # the check comes before anything the host does
    with pytest.raises(UnknownHookPoint, match="before_hires"):
        hooks.call("before_hires", RunContext(kind="txt2img", request=None, opts=None, job=None))


def test_the_extension_host_handles_every_point():
    assert [p for p in HOOK_POINTS if not callable(getattr(CompatHooks, f"_{p}", None))] == []
