"""Running an extension's `install.py` as A1111 does: with Easel's Python, in a subprocess, where `import launch`
gives the A1111 helpers (`is_installed`, `run_pip`, …) through the compat aliases. The folder is the working
directory; output is captured and logged. Every pip run inside it is held to Easel's own package versions
(modules/extensions/constraints.py): an install that would change one fails, naming the package. `InstallState`
(a small JSON file in the data dir) remembers which commit and install.py each extension last ran successfully for,
so start-up runs only the new or changed ones.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from modules.extensions.constraints import Conflict, conflicts_in
from modules.extensions.git import head_commit, tail
from modules.paths import INSTALL_DIR

CODE_DIR = INSTALL_DIR  # where the `modules` package is: the child imports the compat layer from here

log = logging.getLogger("easel.extensions")

INSTALLER = "install.py"
STATE_FILE = "extensions-installed.json"
TIMEOUT_S = 1800  # pip installs of large packages take a while; a hung script must not block forever

# Runs in the child: Easel's modules importable, Easel's packages pinned for every pip it starts, A1111 names
# aliased, then install.py as __main__.
BOOTSTRAP = (
    "import runpy, sys; "
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
    "from modules.extensions.constraints import protect_this_process; protect_this_process(); "
    "from modules.extensions.compat import install_aliases; install_aliases(); "
    "sys.argv = [sys.argv[3]]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


@dataclass(frozen=True)
class InstallerOutcome:
    name: str
    ok: bool
    returncode: int
    output: str  # stdout and stderr together
    conflicts: tuple[Conflict, ...] = ()  # Easel's packages pip refused to change (the install failed for them)

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.name}: install.py finished"
        if self.conflicts:
            names = "; ".join(c.describe() for c in self.conflicts)
            return (f"install.py of {self.name} failed: it needs other versions of Easel's own packages, which were "
                    f"left as they are: {names}\n{tail(self.output)}")
        return f"install.py of {self.name} failed (exit code {self.returncode}):\n{tail(self.output)}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CODE_DIR), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def run_installer(name: str, folder: Path, python: str = sys.executable, timeout: float = TIMEOUT_S
                  ) -> InstallerOutcome:
    """Run `folder/install.py`; every output line goes to the log, and the outcome keeps it for the UI."""
    script = folder / INSTALLER
    log.info("running install.py of extension %s", name)
    try:
        done = subprocess.run([python, "-c", BOOTSTRAP, str(CODE_DIR), str(folder), str(script)], cwd=folder,
                              env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, errors="replace", timeout=timeout)
        code, output = done.returncode, done.stdout or ""
    except subprocess.TimeoutExpired as e:
        partial = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        code, output = -1, partial + f"\ninstall.py did not finish within {timeout:.0f} s and was stopped"
    except OSError as e:
        code, output = -1, f"could not start {python}: {e}"
    for line in output.splitlines():
        log.info("[%s install.py] %s", name, line)
    conflicts = tuple(conflicts_in(output))  # also when install.py caught pip's error and went on
    outcome = InstallerOutcome(name, code == 0 and not conflicts, code, output, conflicts)
    if not outcome.ok:
        log.error("%s", outcome.message)
    return outcome


def signature(folder: Path) -> str | None:
    """What install.py ran for: the commit plus install.py's size and time; None when there is no install.py."""
    script = folder / INSTALLER
    if not script.is_file():
        return None
    stat = script.stat()
    return f"{head_commit(folder) or 'no-git'}:{stat.st_size}:{stat.st_mtime_ns}"


class InstallState:
    """`<data dir>/extensions-installed.json`: extension path → signature of its last successful install.py run."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, str] = {}
        if path.is_file():
            try:
                self.done = dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as e:
                log.warning("%s is unreadable (%s): install.py scripts will run again", path, e)

    def needs_run(self, folder: Path) -> bool:
        sig = signature(folder)
        return sig is not None and self.done.get(str(folder)) != sig

    def record(self, folder: Path, ok: bool) -> None:
        """Remember a success (a failure runs again at the next start, as A1111 does every time)."""
        if ok and (sig := signature(folder)) is not None:
            self.done[str(folder)] = sig
        else:
            self.done.pop(str(folder), None)
        self.save()

    def forget(self, folder: Path) -> None:
        if self.done.pop(str(folder), None) is not None:
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.done, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
