"""Extension installs cannot change Easel's own packages: install.py (through `launch.run_pip` or `python -m pip`
directly) runs pip with Easel's installed versions as constraints, so a requirement such as `transformers<5` fails
that extension's install, naming the package on its row, and the environment is left as it was.

No test here can change the test environment or reach a package index: pip runs with PIP_NO_INDEX and an
empty-but-for-our-wheels --find-links folder, so even without the constraints no `transformers<5` could be found,
and the installs that would succeed are `--dry-run`s.
"""
from __future__ import annotations

import importlib.metadata
import zipfile
from pathlib import Path

import pytest

from modules.extensions import constraints
from modules.extensions.manager import ExtensionManager
from modules.ui.extensions_tab import COLUMNS, install_html, installed_rows
from tests.extensions import make_flags, make_options, make_paths, make_repo, url

VIA_LAUNCH = """
import launch
launch.run_pip('install "transformers<5"', "transformers for my-ext")  # the shell runs it: quoted
"""

VIA_PIP_DIRECTLY = """
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "pip", "install", "transformers<5"])
"""

# Many install.py scripts catch pip's failure and go on; the conflict is still the extension's problem.
CAUGHT = """
import launch
try:
    launch.run_pip("install old-transformers-user", "old-transformers-user")
except RuntimeError as e:
    print("could not install, going on:", e)
"""

UNRELATED = """
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "pip", "install", "--dry-run", "harmless-extra"])
print("dry run finished")
"""


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal pure-Python wheel that pip can resolve from --find-links."""
    dist = f"{name.replace('-', '_')}-{version}"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{name.replace('-', '_')}/__init__.py", "")
        z.writestr(f"{dist}.dist-info/METADATA", metadata)
        z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                               "Tag: py3-none-any\n")
        z.writestr(f"{dist}.dist-info/RECORD", "")
    return wheel


@pytest.fixture
def offline_pip(tmp_path, monkeypatch):
    """pip sees no index and only this test's wheels; no constraint from outside."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "old-transformers-user", "1.0", ("transformers<5",))
    make_wheel(wheels, "harmless-extra", "1.0")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.delenv("PIP_CONSTRAINT", raising=False)
    return wheels


def install(tmp_path, name: str, script: str):
    paths = make_paths(tmp_path)
    repo = make_repo(tmp_path / "src", name, {"install.py": script})
    manager = ExtensionManager(paths, make_options(paths), make_flags())
    return manager, manager.install(url(repo))


@pytest.mark.parametrize("script", [VIA_LAUNCH, VIA_PIP_DIRECTLY], ids=["launch.run_pip", "python -m pip"])
def test_a_requirement_that_would_change_transformers_fails_and_changes_nothing(tmp_path, offline_pip, script):
    before = importlib.metadata.version("transformers")
    manager, result = install(tmp_path, "wants-old-transformers", script)
    assert importlib.metadata.version("transformers") == before
    assert not result.ok
    [conflict] = result.installer.conflicts
    assert (conflict.name, conflict.pinned, conflict.asked) == ("transformers", before, ("transformers<5",))
    assert "Easel's own packages" in result.installer.message and f"transformers {before}" in result.message
    [row] = installed_rows(manager)  # its row in the Extensions tab: the failure's first line, naming the package
    assert row[COLUMNS.index("Problem")] == (f"install.py of wants-old-transformers failed: it needs other versions "
                                            f"of Easel's own packages, which were left as they are: transformers "
                                            f"{before} (asked for transformers<5)")
    shown = install_html(result)  # what Install from URL answers
    assert "class='error'" in shown and f"transformers {before} (asked for transformers&lt;5)" in shown


def test_a_dependency_that_would_change_transformers_fails_even_when_install_py_catches_it(tmp_path, offline_pip):
    before = importlib.metadata.version("transformers")
    manager, result = install(tmp_path, "catches-errors", CAUGHT)
    assert result.installer.returncode == 0 and "could not install, going on" in result.installer.output
    assert not result.ok  # pip refused to change transformers: that is the extension's failure
    [conflict] = result.installer.conflicts
    assert conflict.name == "transformers" and "transformers<5" in conflict.asked
    assert "transformers" in manager.get("catches-errors").problem
    shown = install_html(result)
    assert "exit code 0" not in shown and "left as they are: transformers" in shown
    assert importlib.metadata.version("transformers") == before
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("old-transformers-user")


def test_a_package_that_changes_nothing_of_easels_resolves(tmp_path, offline_pip):
    _, result = install(tmp_path, "harmless", UNRELATED)
    assert result.ok, result.installer.output
    output = result.installer.output
    assert "Would install harmless-extra-1.0" in output and "dry run finished" in output


def test_run_pip_in_the_web_ui_process_is_constrained_too(offline_pip):
    from modules.extensions.compat import launch

    before = importlib.metadata.version("transformers")
    with pytest.raises(RuntimeError) as caught:
        launch.run_pip('install "transformers<5"', "transformers")
    assert [c.name for c in constraints.conflicts_in(str(caught.value))] == ["transformers"]
    assert importlib.metadata.version("transformers") == before


def test_pins_are_easels_packages_and_their_dependencies_as_installed():
    pins = constraints.easel_pins()
    for name in ("torch", "torchvision", "transformers", "tokenizers", "huggingface-hub", "diffusers", "gradio",
                 "numpy", "safetensors", "pillow", "fastapi"):
        assert pins[name] == importlib.metadata.version(name), name
    assert "pytest" not in pins  # a test tool, not something Easel runs on


def test_a_constraint_set_before_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_CONSTRAINT", "/somewhere/mine.txt")
    with constraints.constrained_env() as env:
        mine, ours = env["PIP_CONSTRAINT"].split()
        assert mine == "/somewhere/mine.txt" and "transformers==" in Path(ours).read_text()
    assert not Path(ours).exists()  # removed after the pip run


# A script that runs pip itself when it is imported, in the web UI process (some do, instead of an install.py).
PIP_AT_IMPORT = """
import os, subprocess, sys
done = subprocess.run([sys.executable, "-m", "pip", "install", "transformers<5"], capture_output=True, text=True)
open(os.environ["PIP_OUTPUT_FILE"], "w").write(done.stdout + done.stderr)
"""


def test_pip_run_by_a_script_at_import_is_constrained(tmp_path, offline_pip, tiny_checkpoint, monkeypatch):
    from tests.extensions.conftest import start, stop
    from tests.extensions import make_ext
    from tests.pipeline.conftest import make_app

    monkeypatch.setenv("PIP_CONSTRAINT", "")  # restored after the test: loading sets it for this process
    monkeypatch.setenv("PIP_OUTPUT_FILE", str(tmp_path / "pip.txt"))
    folder = make_ext(tmp_path / "exts", "pip-at-import", {"scripts/pip_now.py": PIP_AT_IMPORT})
    app = make_app(tmp_path / "data", tiny_checkpoint)
    try:
        start(app, [("pip-at-import", folder)])
    finally:
        stop(app)
    assert [c.name for c in constraints.conflicts_in((tmp_path / "pip.txt").read_text())] == ["transformers"]
