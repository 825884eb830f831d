"""A1111's `modules.ui_extensions.apply_and_restart` and `shared.state.request_restart`: the choices are applied
through the App's extension manager and the restart Easel does not do itself is said in the log."""
from __future__ import annotations

import logging

import pytest

from modules.errors import InvalidInput


def test_apply_and_restart_stores_the_choices_and_says_easel_does_not_restart(bound, caplog):
    from modules import shared, ui_extensions  # the names an extension imports

    with caplog.at_level(logging.WARNING, logger="easel.extensions"):
        ui_extensions.apply_and_restart('["some-extension"]', "[]", "extra")
    assert tuple(bound.options.get("disabled_extensions")) == ("some-extension",)
    assert bound.extensions.mode() == "extra"
    assert shared.state.server_command == "restart" and shared.state.need_restart is True
    assert any("does not restart itself" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("args, field", [(('{"a": 1}', "[]", "none"), "disable_list"),
                                         (("[]", "not json", "none"), "update_list"),
                                         (("[]", "[]", "some"), "disable_all")])
def test_bad_values_name_the_field(bound, args, field):
    from modules import ui_extensions

    with pytest.raises(InvalidInput) as caught:
        ui_extensions.apply_and_restart(*args)
    assert caught.value.field == field


def test_other_names_of_the_module_say_why_they_are_missing(bound):
    from modules import ui_extensions

    with pytest.raises(AttributeError, match="extensions_tab.py"):
        ui_extensions.extension_table  # noqa: B018


def test_a_replaced_state_interrupt_is_what_the_apps_interrupt_calls(bound):
    """sd-webui-prevent-interruption replaces shared.state.interrupt to block the Interrupt button; in A1111 the
    button and /sdapi/v1/interrupt call that method, so here the App's interrupt goes through it too."""
    from modules import shared
    from modules.pipeline.job import Job

    job, calls = Job(), []
    original = shared.state.interrupt
    bound._current_job = job  # as while a job runs
    try:
        shared.state.interrupt = lambda: calls.append("blocked")
        bound.interrupt()
        assert calls == ["blocked"] and not job.interrupted
        shared.state.interrupt = lambda: (calls.append("let through"), original())
        bound.interrupt()
        assert calls == ["blocked", "let through"] and job.interrupted
    finally:
        bound._current_job = None
        shared.state.forget_replacements()
    assert shared.state.interrupt.__func__ is type(shared.state).interrupt
