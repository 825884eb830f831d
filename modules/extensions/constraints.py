"""Keeping extension installs from changing Easel's own packages.

An extension's install.py (and any `launch.run_pip` or `python -m pip` it starts) runs pip with a constraints file
that pins every package Easel runs on at the version installed right now: the names in Easel's requirements.txt,
torch and torchvision, and everything those need (their dependency closure, read from importlib.metadata). A
requirement that would move one of them (`transformers<5`, a package depending on `numpy<2`) makes pip's resolver
stop before it downloads or installs anything, so the extension's install fails and Easel keeps working.

pip reads the file from the `PIP_CONSTRAINT` environment variable, so pip runs that an extension starts itself,
without `launch`, are covered too. A `PIP_CONSTRAINT` already set is kept beside ours; a constraint given only in a
pip configuration file is replaced while the extension's install runs (pip lets the environment win).
"""
from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from modules.paths import INSTALL_DIR

ENV_VAR = "PIP_CONSTRAINT"
PREFIX = "easel-pip-constraints-"  # our files' names
ALWAYS_PINNED = ("torch", "torchvision", "xformers")  # installed by webui.sh apart from requirements.txt
REQUIREMENTS = INSTALL_DIR / "requirements.txt"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_CONSTRAINT_LINE = re.compile(r"\(constraint\)\s+([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(\S+)")
_ASKED_LINE = re.compile(r"^\s*(?:The user requested|.+? depends on)\s+(?!\(constraint\))(.+?)\s*$")


def canonical(name: str) -> str:
    """PEP 503 normalised name.

    >>> canonical("Hugging_Face.Hub")
    'hugging-face-hub'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(text: str) -> list[str]:
    """The package names of a requirements file's lines (options, comments and blank lines skipped).

    >>> requirement_names("# pinned\\ndiffusers==0.42.1\\n-r other.txt\\nPillow\\n"
    ...                   "gradio[oauth]>=6 ; python_version>'3'")
    ['diffusers', 'pillow', 'gradio']
    """
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and (match := _NAME.match(line)):
            names.append(canonical(match.group(1)))
    return names


def closure(roots: Iterable[str], installed: Callable[[str], tuple[str, list[str]] | None]) -> dict[str, str]:
    """Every installed package reachable from `roots` through its (non-extra) requirements, name → version.
    `installed(name)` gives (version, requirement strings) or None when that package is not installed.

    >>> env = {"a": ("1.0", ["b>=2", "c ; extra == 'x'"]), "b": ("2.1", ["d"]), "c": ("3", [])}
    >>> closure(["a", "z"], env.get)
    {'a': '1.0', 'b': '2.1'}
    """
    from packaging.requirements import InvalidRequirement, Requirement

    pins: dict[str, str] = {}
    todo = [canonical(n) for n in roots]
    while todo:
        name = todo.pop()
        if name in pins or (found := installed(name)) is None:
            continue
        version, requires = found
        pins[name] = version
        for text in requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonical(req.name))
    return dict(sorted(pins.items()))


def installed_distribution(name: str) -> tuple[str, list[str]] | None:
    """(version, requirements) of an installed distribution, from importlib.metadata; None when not installed."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return dist.version, list(dist.requires or [])


def easel_pins(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """Easel's packages as installed now: requirements.txt's names and torch's family, with their dependencies."""
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    return closure([*requirement_names(text), *ALWAYS_PINNED], installed_distribution)


def constraints_text(pins: Mapping[str, str]) -> str:
    """The constraints file's text.

    >>> print(constraints_text({"torch": "2.14.1+cpu", "numpy": "2.3.0"}), end="")
    # Easel's own packages as installed: extension installs may add packages but not change these.
    torch==2.14.1+cpu
    numpy==2.3.0
    """
    lines = ["# Easel's own packages as installed: extension installs may add packages but not change these."]
    return "\n".join([*lines, *(f"{name}=={version}" for name, version in pins.items())]) + "\n"


def with_constraint(env: Mapping[str, str], file: Path) -> dict[str, str]:
    """`env` with `file` added to PIP_CONSTRAINT (pip splits the variable on spaces): a constraint set before
    stays, an earlier file of ours is replaced.

    >>> env = {"PIP_CONSTRAINT": "/etc/mine.txt /tmp/easel-pip-constraints-1.txt"}
    >>> with_constraint(env, Path("/tmp/easel-pip-constraints-2.txt"))["PIP_CONSTRAINT"]
    '/etc/mine.txt /tmp/easel-pip-constraints-2.txt'
    """
    before = [f for f in env.get(ENV_VAR, "").split() if not Path(f).name.startswith(PREFIX)]
    return {**env, ENV_VAR: " ".join([*before, str(file)])}


def write_constraints(pins: Mapping[str, str]) -> Path:
    """A new private temporary file holding the constraints (the caller removes it)."""
    handle, name = tempfile.mkstemp(prefix=PREFIX, suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(constraints_text(pins))
    return Path(name)


@contextlib.contextmanager
def constrained_env(env: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """An environment for one pip run with Easel's pins applied; the file is removed afterwards."""
    file = write_constraints(easel_pins())
    try:
        yield with_constraint(os.environ if env is None else env, file)
    finally:
        file.unlink(missing_ok=True)


def protect_this_process() -> Path:
    """Pin Easel's packages for every pip this process and its children start (the install.py subprocess calls
    this before running install.py); the file is removed when the process exits."""
    file = write_constraints(easel_pins())
    atexit.register(file.unlink, missing_ok=True)
    os.environ[ENV_VAR] = with_constraint(os.environ, file)[ENV_VAR]
    return file


@dataclass(frozen=True)
class Conflict:
    """A package an install asked to change: Easel's pin and what was asked for it."""

    name: str
    pinned: str
    asked: tuple[str, ...]

    def describe(self) -> str:
        wanted = f" (asked for {', '.join(self.asked)})" if self.asked else ""
        return f"{self.name} {self.pinned}{wanted}"


def conflicts_in(output: str) -> list[Conflict]:
    """The pinned packages pip refused to change, read from its resolver's explanation.

    >>> text = '''ERROR: Cannot install transformers<5 because these package versions have conflicting dependencies.
    ... The conflict is caused by:
    ...     The user requested transformers<5
    ...     old-ext 1.0 depends on transformers>=4,<4.40
    ...     The user requested (constraint) transformers==5.23.0'''
    >>> [c.describe() for c in conflicts_in(text)]
    ['transformers 5.23.0 (asked for transformers<5, transformers>=4,<4.40)']
    """
    pins = {canonical(m.group(1)): m.group(2) for m in _CONSTRAINT_LINE.finditer(output)}
    asked: dict[str, list[str]] = {name: [] for name in pins}
    for line in output.splitlines():
        if (match := _ASKED_LINE.match(line)) and (name := _NAME.match(match.group(1))):
            wanted = match.group(1)
            if canonical(name.group(1)) in asked and wanted not in asked[canonical(name.group(1))]:
                asked[canonical(name.group(1))].append(wanted)
    return [Conflict(name, version, tuple(asked[name])) for name, version in pins.items()]
