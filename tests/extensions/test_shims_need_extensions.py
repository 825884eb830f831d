"""The compat layer patches Gradio (the Gradio 3 shim, the component hooks) only when extension scripts are loaded
(the built-in ones count: they are written as A1111 extensions); with --disable-all-extensions the page runs on
Gradio as shipped (modules/extensions/compat/startup.py)."""
from __future__ import annotations

import pytest

from tests.extensions.conftest import stop
from tests.pipeline.conftest import make_app


def _patched() -> tuple[bool, bool]:
    from gradio.components.base import Component

    from modules.extensions.compat import gradio3

    return gradio3.is_installed(), getattr(Component.__init__, "easel_component_hook", False)


@pytest.fixture
def unpatched():
    """Gradio as shipped for the test (an earlier test may have left the patches on), as found afterwards."""
    from modules.extensions.compat import component_hooks, gradio3

    was = _patched()
    gradio3.uninstall_gradio3_shim()
    component_hooks.remove()
    yield
    gradio3.uninstall_gradio3_shim()
    component_hooks.remove()
    if was[0]:
        gradio3.install_gradio3_shim()
    if was[1]:
        component_hooks.install()


def test_without_extensions_gradio_stays_as_shipped(tmp_path, tiny_checkpoint, unpatched):
    app = make_app(tmp_path, tiny_checkpoint, "--disable-all-extensions")
    try:
        assert _patched() == (False, False)
    finally:
        app.jobs.close()
        stop(app)


def test_the_builtin_extensions_get_the_shim_and_the_hooks(tmp_path, tiny_checkpoint, unpatched):
    app = make_app(tmp_path, tiny_checkpoint)
    try:
        assert _patched() == (True, True)
    finally:
        app.jobs.close()
        stop(app)
