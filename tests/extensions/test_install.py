"""Install from a git URL (file:// repositories made here), install.py with A1111's `launch` helpers, start-up
installers, and every refusal with its message."""
from __future__ import annotations

import json
import logging
import sys

import pytest

from modules.errors import EaselError
from modules.extensions.installer import STATE_FILE
from modules.extensions.manager import TMP_DIR, ExtensionManager
from tests.extensions import commit, git, make_ext, make_flags, make_options, make_paths, make_repo, url

# An install.py the way A1111 authors write them; it records what it saw in a file beside itself.
GOOD_INSTALL = """
import json, os, sys
import launch
if not launch.is_installed("pytest"):
    launch.run_pip("install pytest", "pytest")
json.dump({"cwd": os.getcwd(), "pytest": launch.is_installed("pytest"),
           "nothing": launch.is_installed("surely-not-an-installed-package-xyz"),
           "python": launch.python, "argv0": sys.argv[0], "name": __name__,
           "has_run": callable(launch.run), "repo_dir": launch.repo_dir("x")},
          open("install-ran.json", "w"))
print("installing my-ext requirements... done")
"""

FAILING_INSTALL = """
import launch
print("checking requirements")
launch.run_pip("install --no-index --find-links . surely-not-an-installed-package-xyz", "xyz requirement")
"""


def manager_for(paths, *flags):
    return ExtensionManager(paths, make_options(paths), make_flags(*flags))


@pytest.fixture
def paths(tmp_path):
    return make_paths(tmp_path)


def test_install_from_file_url_runs_install_py_with_launch(tmp_path, paths, caplog):
    caplog.set_level(logging.INFO, logger="easel.extensions")
    repo = make_repo(tmp_path / "src", "my-ext", {"install.py": GOOD_INSTALL, "scripts/s.py": "X = 1\n"})
    manager = manager_for(paths)
    result = manager.install(url(repo))
    target = paths.extensions_dir / "my-ext"
    assert result.ok and result.name == "my-ext" and result.path == target
    assert "Installed my-ext" in result.message and "Restart Easel" in result.message
    seen = json.loads((target / "install-ran.json").read_text())
    assert seen["cwd"] == str(target) and seen["pytest"] is True and seen["nothing"] is False
    assert seen["python"] == sys.executable and seen["name"] == "__main__" and seen["has_run"]
    assert seen["argv0"].endswith("install.py")
    assert "[my-ext install.py] installing my-ext requirements... done" in caplog.text  # output is logged
    ext = manager.get("my-ext")
    assert ext.remote == url(repo) and ext.problem is None and [p.name for p in ext.script_files] == ["s.py"]
    assert list((paths.extensions_dir).iterdir()) == [target]  # no temporary folder left behind
    assert str(target) in json.loads((paths.data_dir / STATE_FILE).read_text())


def test_install_a_branch_into_a_chosen_folder(tmp_path, paths):
    repo = make_repo(tmp_path / "src", "repo", {"a.txt": "main"})
    git(repo, "checkout", "-q", "-b", "dev")
    commit(repo, {"a.txt": "dev"})
    git(repo, "checkout", "-q", "main")
    result = manager_for(paths).install(url(repo) + "/", branch="dev", name="chosen")
    assert result.ok and result.installer is None  # no install.py: nothing to run
    assert (paths.extensions_dir / "chosen" / "a.txt").read_text() == "dev"
    assert manager_for(paths).get("chosen").branch == "dev"


def test_failing_install_py_keeps_the_extension_marked_with_the_output(tmp_path, paths):
    repo = make_repo(tmp_path / "src", "bad-install", {"install.py": FAILING_INSTALL})
    manager = manager_for(paths)
    result = manager.install(url(repo))
    assert not result.ok and result.installer.returncode != 0
    assert (paths.extensions_dir / "bad-install").is_dir()  # stays installed
    problem = manager.get("bad-install").problem
    assert "install.py of bad-install failed" in problem and "Couldn't install xyz requirement" in problem
    assert "checking requirements" in result.installer.output
    assert str(paths.extensions_dir / "bad-install") not in json.loads((paths.data_dir / STATE_FILE).read_text())


@pytest.mark.parametrize("address, expected", [
    ("file:///nonexistent/repo-that-is-not-there", "git clone file:///nonexistent/repo-that-is-not-there failed"),
    ("not a url", "not a git URL"),
    ("--upload-pack=touch /tmp/pwned", "not a git URL"),
    ("", "not a git URL"),
])
def test_bad_urls_are_refused_and_leave_nothing(paths, address, expected, caplog):
    with pytest.raises(EaselError, match=expected):
        manager_for(paths).install(address)
    assert list(paths.extensions_dir.iterdir()) == []


def test_a_missing_branch_is_reported(tmp_path, paths):
    repo = make_repo(tmp_path / "src", "repo", {"a.txt": "x"})
    with pytest.raises(EaselError, match="branch no-such-branch.*failed"):
        manager_for(paths).install(url(repo), branch="no-such-branch")
    assert not (paths.extensions_dir / "repo").exists() and not (paths.extensions_dir / TMP_DIR).exists()


def test_name_clashes_are_refused_naming_the_installed_one(tmp_path, paths, caplog):
    repo = make_repo(tmp_path / "src", "dup", {"a.txt": "x"})
    manager = manager_for(paths)
    manager.install(url(repo))
    with pytest.raises(EaselError, match="an extension named 'dup' is already installed at .*dup from file://"):
        manager.install(url(repo))
    assert "cannot install" in caplog.text
    make_ext(paths.builtin_extensions_dir, "shipped")
    other = make_repo(tmp_path / "src2", "shipped", {"a.txt": "x"})
    with pytest.raises(EaselError, match="'shipped' is already built-in"):
        manager.install(url(other))
    renamed = make_repo(tmp_path / "src3", "renamed", {"metadata.ini": "[Extension]\nName = dup\n"})
    with pytest.raises(EaselError, match="metadata.ini names it like an installed one"):
        manager.install(url(renamed))
    assert sorted(p.name for p in paths.extensions_dir.iterdir()) == ["dup"]
    with pytest.raises(EaselError, match="cannot be an extension folder name"):
        manager.install(url(repo), name="../escape")


def test_installing_is_refused_when_reachable_from_other_machines(tmp_path, paths):
    repo = make_repo(tmp_path / "src", "ext", {"a.txt": "x"})
    with pytest.raises(EaselError, match="--enable-insecure-extension-access"):
        manager_for(paths, "--listen").install(url(repo))
    with pytest.raises(EaselError, match="Updating extensions is disabled"):
        manager_for(paths, "--listen").update([])
    assert manager_for(paths, "--listen", "--enable-insecure-extension-access").install(url(repo)).ok


def test_start_runs_install_py_of_new_or_changed_extensions_once(tmp_path, paths):
    counter = "open('runs.txt', 'a').write('x')\n"
    repo = make_repo(tmp_path / "src", "counted", {"install.py": counter})
    git(paths.extensions_dir, "clone", "-q", url(repo), "counted")
    make_ext(paths.extensions_dir, "disabled-one", {"install.py": counter})
    make_options(paths).set("disabled_extensions", ["disabled-one"])
    runs = paths.extensions_dir / "counted" / "runs.txt"
    [outcome] = ExtensionManager.start(paths, make_options(paths), make_flags()).run_pending_installers() or [None]
    assert outcome is None  # start() already ran it; nothing left pending
    assert runs.read_text() == "x"
    ExtensionManager.start(paths, make_options(paths), make_flags())
    assert runs.read_text() == "x"  # unchanged: not run again
    commit(repo, {"install.py": counter + "# v2\n"})
    git(paths.extensions_dir / "counted", "pull", "-q", "--ff-only")
    ExtensionManager.start(paths, make_options(paths), make_flags())
    assert runs.read_text() == "xx"  # changed: run again
    assert not (paths.extensions_dir / "disabled-one" / "runs.txt").exists()  # disabled: never run


def test_skip_install_leaves_install_py_pending_for_a_later_start(paths):
    """A1111's --skip-install: no extension's install.py runs at start; one started without it runs them."""
    make_ext(paths.extensions_dir, "counted", {"install.py": "open('runs.txt', 'a').write('x')\n"})
    ExtensionManager.start(paths, make_options(paths), make_flags("--skip-install"))
    assert not (paths.extensions_dir / "counted" / "runs.txt").exists()
    ExtensionManager.start(paths, make_options(paths), make_flags())
    assert (paths.extensions_dir / "counted" / "runs.txt").read_text() == "x"


def test_a_failed_start_up_installer_is_reported_and_retried(paths):
    make_ext(paths.extensions_dir, "flaky", {"install.py": "open('tries.txt', 'a').write('x')\nraise SystemExit(3)\n"})
    manager = ExtensionManager.start(paths, make_options(paths), make_flags())
    assert "install.py of flaky failed (exit code 3)" in manager.get("flaky").problem
    assert "flaky" in [e.name for e in manager.enabled()]  # still loads: the script loader decides
    ExtensionManager.start(paths, make_options(paths), make_flags())
    assert (paths.extensions_dir / "flaky" / "tries.txt").read_text() == "xx"


def test_preload_adds_flags_and_a_failing_preload_is_reported(paths):
    from modules import cli
    from modules.extensions.manager import PRELOAD_PROBLEMS
    from modules.extensions.preload import preload_extensions

    make_ext(paths.extensions_dir, "adds-flag", {"preload.py": "def preload(parser):\n"
                                                 "    parser.add_argument('--my-ext-flag', default='x')\n"})
    make_ext(paths.extensions_dir, "broken-preload", {"preload.py": "def preload(parser):\n    raise KeyError('k')\n"})
    make_ext(paths.extensions_dir, "off", {"preload.py": "def preload(parser):\n"
                                           "    parser.add_argument('--off-flag')\n"})
    make_options(paths).set("disabled_extensions", ["off"])
    problems = {}

    def preload(parser, first):
        problems.update(preload_extensions(parser, paths, first))

    flags = cli.parse_args_with_preload(["--my-ext-flag", "y"], env={}, preload=preload)
    assert flags.my_ext_flag == "y" and not hasattr(flags, "off_flag")
    assert problems == {"broken-preload": "preload.py failed: KeyError: 'k'"}
    setattr(flags, PRELOAD_PROBLEMS, problems)
    manager = ExtensionManager.start(paths, make_options(paths), flags)
    assert manager.get("broken-preload").problem == "preload.py failed: KeyError: 'k'"


def test_webui_flags_include_extension_flags_from_the_data_dir(tmp_path, monkeypatch):
    import webui
    from modules.extensions.manager import PRELOAD_PROBLEMS

    monkeypatch.delenv("COMMANDLINE_ARGS", raising=False)
    data = tmp_path / "data"
    make_ext(data / "extensions", "adds-flag", {"preload.py": "def preload(parser):\n"
                                                "    parser.add_argument('--adds-flag-level', type=int)\n"})
    flags = webui.parse_flags(["--data-dir", str(data), "--adds-flag-level", "3"])
    assert flags.adds_flag_level == 3 and getattr(flags, PRELOAD_PROBLEMS) == {}
    with pytest.raises(SystemExit):  # with the extension disabled, its flag is unknown again
        webui.parse_flags(["--data-dir", str(data), "--disable-extra-extensions", "--adds-flag-level", "3"])


def test_preload_may_import_a1111_modules(paths):
    from modules import cli
    from modules.extensions.preload import preload_extensions

    make_ext(paths.extensions_dir, "a1111-style", {"preload.py": (
        "import os\nimport launch\nfrom modules import paths_internal\n"
        "def preload(parser):\n"
        "    parser.add_argument('--a1111-style-dir', default=os.path.join(paths_internal.models_path, 'X'))\n")})
    problems = {}
    flags = cli.parse_args_with_preload([], env={}, preload=lambda parser, first: problems.update(
        preload_extensions(parser, paths, first)))
    assert problems == {} and flags.a1111_style_dir.endswith("X")
