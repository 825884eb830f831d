"""A tiny-model App with one probe extension written by a test (its `scripts/<name>.py`), started as a real one."""
from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


@contextlib.contextmanager
def probe_extension(root, checkpoint, name: str, source: str) -> Iterator:
    """The App, with the extension `name` in `root`; stopped (scripts unloaded) on exit."""
    folder = root / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    app = make_app(root / "data", checkpoint, "--nowebui")
    start(app, [(name, folder)])
    try:
        yield app
    finally:
        app.jobs.close()
        stop(app)


def probe_module(name: str):
    """The loaded module of the probe's script `name`.py."""
    from modules.extensions.compat import scripts

    return next(d.module for d in scripts.scripts_data if d.path.endswith(f"{name}.py"))
