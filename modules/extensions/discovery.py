"""Finding extension folders: `<install>/extensions-builtin/*` then `<data dir>/extensions/*`, each sorted by name
(A1111's order), as `Extension` values. Folders whose name starts with '.' are skipped (the installer's temporary
clones live in `extensions/.easel-tmp`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modules.extensions.git import RepoInfo, repo_info
from modules.extensions.metadata import Metadata, read_metadata


@dataclass(eq=False)
class Extension:
    """One extension folder. The manager owns these values and is the only one that changes them."""

    name: str  # the folder's name (A1111's `name`)
    path: Path
    is_builtin: bool
    metadata: Metadata
    enabled: bool = True  # not in disabled_extensions and not switched off by --disable-*-extensions
    problems: list[str] = field(default_factory=list)  # install.py failures, ordering, script-loading problems
    _repo: RepoInfo | None = field(default=None, repr=False)
    update_status: str | None = None  # the last "Check for updates" answer
    can_update: bool = False
    duplicate_of: Path | None = None  # another folder with the same canonical name came first: not loaded

    @property
    def canonical_name(self) -> str:
        return self.metadata.canonical_name

    @property
    def problem(self) -> str | None:
        """Everything reported for this extension, one line each; None when all is well."""
        return "\n".join(self.problems) if self.problems else None

    @property
    def scripts_dir(self) -> Path:
        return self.path / "scripts"

    @property
    def script_files(self) -> list[Path]:
        """`scripts/*.py`, sorted by name (what A1111 imports, in its order)."""
        folder = self.scripts_dir
        return sorted((p for p in folder.glob("*.py") if p.is_file()), key=lambda p: p.name) if folder.is_dir() else []

    @property
    def repo(self) -> RepoInfo:
        """Remote, branch, commit and date; read from git once, on first use (refresh_repo reads again)."""
        if self._repo is None:
            self._repo = repo_info(self.path)
        return self._repo

    def refresh_repo(self) -> RepoInfo:
        self._repo = None
        return self.repo

    @property
    def remote(self) -> str | None:
        return self.repo.remote

    @property
    def branch(self) -> str | None:
        return self.repo.branch

    @property
    def commit_hash(self) -> str | None:
        return self.repo.commit_hash

    @property
    def commit_date(self) -> int | None:
        return self.repo.commit_date

    @property
    def version(self) -> str | None:
        return self.repo.version

    def names(self) -> set[str]:
        """What a metadata.ini of another extension may call this one: folder name or canonical name."""
        return {self.name.lower(), self.canonical_name}

    def api_dict(self) -> dict:
        """A1111's /sdapi/v1/extensions item."""
        return {"name": self.name, "remote": self.remote, "branch": self.branch, "commit_hash": self.commit_hash,
                "version": self.version, "commit_date": self.commit_date, "enabled": self.enabled}


def extension_folders(paths) -> list[tuple[Path, bool]]:
    """(folder, is_builtin) of every extension folder, built-in ones first, each group sorted by name."""
    found: list[tuple[Path, bool]] = []
    for base, builtin in ((paths.builtin_extensions_dir, True), (paths.extensions_dir, False)):
        if base.is_dir():
            found.extend((p, builtin) for p in sorted(base.iterdir(), key=lambda p: p.name)
                         if p.is_dir() and not p.name.startswith("."))
    return found


def discover(paths) -> list[Extension]:
    """Every extension folder as an Extension (enabled, no problems yet), in A1111's base order. A second folder
    with an already-seen canonical name is kept but marked, so the manager does not load it."""
    extensions: list[Extension] = []
    seen: dict[str, Extension] = {}  # canonical name → the first folder with it
    for folder, builtin in extension_folders(paths):
        ext = Extension(name=folder.name, path=folder, is_builtin=builtin, metadata=read_metadata(folder))
        if ext.metadata.problem:
            ext.problems.append(ext.metadata.problem)
        first = seen.get(ext.canonical_name)
        if first is not None:
            ext.duplicate_of = first.path
            ext.problems.append(f"duplicate name {ext.canonical_name!r}: {first.path} is loaded, this one is not")
        else:
            seen[ext.canonical_name] = ext
        extensions.append(ext)
    return extensions
