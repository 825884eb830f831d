"""Apps with extensions loaded through the compatibility layer, on the tiny model."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipeline.conftest import make_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "extensions"
BUILTIN = Path(__file__).resolve().parents[2] / "extensions-builtin"


def load_builtin(path: str, folder: str | None = None):
    """A file of extensions-builtin (`path` relative to it) imported as the script loader does: A1111's names
    aliased and, with `folder`, that extension folder on sys.path while it imports."""
    import importlib.util
    import sys

    from modules.extensions.compat import install_aliases

    install_aliases()
    root = str(BUILTIN / folder) if folder else None
    if root:
        sys.path.insert(0, root)
    try:
        spec = importlib.util.spec_from_file_location(Path(path).stem if folder else Path(path).name,
                                                      BUILTIN / path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {BUILTIN / path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        if root:
            sys.path.remove(root)


@pytest.fixture(scope="module")
def builtin_app(tmp_path_factory, tiny_checkpoint):
    """One App (built-in extensions loaded) for a test module of the built-in scripts."""
    from modules.extensions.compat import binding

    app = make_app(tmp_path_factory.mktemp("builtin"), tiny_checkpoint)
    yield app
    app.jobs.close()
    binding.unbind()


def start(app, folders):
    """Load `folders` [(name, path)] as the enabled extensions of `app` and attach the script host."""
    from modules.extensions.compat.startup import start_extensions

    app.scripts = start_extensions(app, [(n, Path(p)) for n, p in folders])
    return app.scripts


def module_of(host, title: str):
    """The imported module of the script titled `title` (its module-level state, e.g. CALLS)."""
    from modules.extensions.compat import scripts

    for data in scripts.scripts_data:
        script = data.script_class()
        if script.title().lower() == title.lower():
            return data.module
    raise KeyError(title)


@pytest.fixture
def recorder_app(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path / "data", tiny_checkpoint)
    folder = tmp_path / "data" / "extensions" / "hook_recorder"
    shutil.copytree(FIXTURES / "hook_recorder", folder)
    app.extensions.refresh(reorder=True)  # the manager sees it (assets, tab) as if it was there at start
    start(app, [("hook_recorder", folder)])  # scripts: only this extension's, so tests see its effects alone
    yield app
    stop(app)


@pytest.fixture
def bound(tmp_path, tiny_checkpoint):
    """An App with the A1111 names bound and no extension loaded."""
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


def stop(app) -> None:
    """Undo what loading extensions did to process-wide state (callbacks, patches of Gradio, the binding)."""
    from modules.extensions.compat import binding, component_hooks, gradio3, pydantic1, script_callbacks

    script_callbacks.clear_callbacks()
    component_hooks.remove()
    gradio3.uninstall_gradio3_shim()
    pydantic1.uninstall_pydantic1_shim()
    binding.unbind()


@pytest.fixture
def plain_gradio():
    """Start from Gradio as shipped (another test may have left the Gradio 3 shim on), and leave things as found."""
    from modules.extensions.compat import gradio3

    was_installed = gradio3.is_installed()
    gradio3.uninstall_gradio3_shim()
    yield
    gradio3.uninstall_gradio3_shim()
    if was_installed:
        gradio3.install_gradio3_shim()


@pytest.fixture
def shim(plain_gradio):
    """The Gradio 3 shim on for one test, off after it."""
    from modules.extensions.compat import gradio3

    gradio3.install_gradio3_shim()
    yield
    gradio3.uninstall_gradio3_shim()
