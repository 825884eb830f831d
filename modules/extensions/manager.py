"""ExtensionManager: the one owner of the extension folders. It discovers them, decides which load and in what
order (settings `disabled_extensions`, `disable_all_extensions`, flags `--disable-all-extensions` and
`--disable-extra-extensions`, metadata.ini), installs from git URLs, runs install.py scripts, checks for and
applies updates, and keeps each extension's problems for the Extensions tab.

The set of extensions that load is fixed when the manager starts (scripts, JavaScript and CSS are loaded once);
enabling, disabling, installing and updating take effect at the next start, and the tab says so.
"""
from __future__ import annotations

import contextlib
import logging
import re
import shutil
import sys
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from modules.errors import EaselError, NotFound
from modules.extensions import git
from modules.extensions.discovery import Extension, discover
from modules.extensions.index import IndexEntry, load_index, normalize_url
from modules.extensions.installer import STATE_FILE, InstallerOutcome, InstallState, run_installer
from modules.extensions.metadata import read_metadata
from modules.extensions.ordering import load_order

log = logging.getLogger("easel.extensions")

DISABLED_KEY = "disabled_extensions"
MODE_KEY = "disable_all_extensions"  # "none", "extra" (only built-in ones load) or "all"
INDEX_KEY = "extensions_index_url"
TMP_DIR = ".easel-tmp"
PRELOAD_PROBLEMS = "extension_preload_problems"  # flags attribute: {name: problem} from preload.py, set by webui
_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._ -]{0,99}$")


def locked(flags) -> bool:
    """A1111: installing and updating are refused when others can reach the UI, unless explicitly allowed."""
    if flags is None:
        return False
    exposed = bool(getattr(flags, "listen", False) or getattr(flags, "share", False)
                   or getattr(flags, "server_name", None))
    return exposed and not getattr(flags, "enable_insecure_extension_access", False)


def folder_name(url: str, wanted: str | None = None) -> str:
    """The folder an install goes to: the name asked for, or the repository's name.

    >>> folder_name("https://github.com/a/sd-webui-thing.git/"), folder_name("git@h:a/b.git", " custom ")
    ('sd-webui-thing', 'custom')
    """
    name = (wanted or "").strip() or url.strip().rstrip("/").replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    name = name.removesuffix(".git")
    if not _FOLDER.match(name) or name in (".", ".."):
        raise EaselError(f"{name!r} cannot be an extension folder name: use letters, digits, '.', '_', '-' or "
                         f"spaces, not starting with '.' (give a folder name)")
    return name


@dataclass(frozen=True)
class InstallResult:
    name: str
    path: Path
    installer: InstallerOutcome | None  # None: the extension has no install.py

    @property
    def ok(self) -> bool:
        return self.installer is None or self.installer.ok

    @property
    def message(self) -> str:
        text = f"Installed {self.name} into {self.path}."
        if self.installer is not None:
            text += " " + (self.installer.message if not self.installer.ok else "install.py ran successfully.")
        return text + " Restart Easel to load it."


@dataclass(frozen=True)
class UpdateOutcome:
    name: str
    ok: bool
    can_update: bool
    message: str


class ExtensionManager:
    """Extensions of one App. `enabled()` is what the script loader and the page load, in load order."""

    def __init__(self, paths, options, flags=None, python: str = sys.executable):
        self.paths, self.options, self.flags, self.python = paths, options, flags, python
        self.state = InstallState(paths.data_dir / STATE_FILE)
        self._lock = threading.RLock()
        self._install_lock = threading.Lock()
        self._extensions: list[Extension] = []
        self._reported: dict[str, list[str]] = {}  # problems from the loader and install.py, by extension
        self._order_problems: dict[str, str] = {}
        self._loaded: list[str] = []  # names, in load order, fixed at start
        self.refresh(reorder=True)

    @classmethod
    def start(cls, paths, options, flags=None) -> ExtensionManager:
        """At start-up: discover, order, and run install.py of enabled extensions new or changed since last run
        (not with A1111's --skip-install, which leaves them pending for a later start)."""
        manager = cls(paths, options, flags)
        for name, problem in (getattr(flags, PRELOAD_PROBLEMS, None) or {}).items():
            manager.report_problem(name, problem)
        if not getattr(flags, "skip_install", None):
            manager.run_pending_installers()
        return manager

    # ----- settings -----

    def disabled_names(self) -> set[str]:
        value = self.options.get(DISABLED_KEY) if DISABLED_KEY in self.options.table else ()
        return {str(x) for x in (value or ()) if isinstance(x, str)}

    def mode(self) -> str:
        """'all', 'extra' or 'none': what the flags and the setting `disable_all_extensions` switch off."""
        flags = self.flags
        if getattr(flags, "disable_all_extensions", False):
            return "all"
        setting = self.options.get(MODE_KEY) if MODE_KEY in self.options.table else "none"
        if getattr(flags, "disable_extra_extensions", False) and setting != "all":
            return "extra"
        return setting if setting in ("none", "extra", "all") else "none"

    def is_active(self, ext: Extension) -> bool:
        """Enabled in the list and not switched off by the mode (A1111's `extensions.active()`)."""
        mode = self.mode()
        return ext.enabled and mode != "all" and not (mode == "extra" and not ext.is_builtin)

    def set_disabled(self, names: Iterable[str]) -> list[str]:
        """Store the disabled list (takes effect at the next start); returns it sorted."""
        chosen = sorted({str(n) for n in names})
        self.options.set(DISABLED_KEY, tuple(chosen))
        with self._lock:
            for ext in self._extensions:
                ext.enabled = ext.name not in chosen
        log.info("disabled extensions: %s (restart Easel to apply)", ", ".join(chosen) or "none")
        return chosen

    def set_mode(self, mode: str) -> None:
        self.options.set(MODE_KEY, mode)

    # ----- listing -----

    def refresh(self, reorder: bool = False) -> list[Extension]:
        """Read the folders again. With `reorder`, also recompute what loads (only at start: scripts load once)."""
        with self._lock:
            found = discover(self.paths)
            disabled = self.disabled_names()
            previous = {e.name: e for e in self._extensions}
            for ext in found:
                ext.enabled = ext.name not in disabled
                old = previous.get(ext.name)
                if old is not None and old.path == ext.path:  # keep what git said (read once per folder)
                    ext.update_status, ext.can_update, ext._repo = old.update_status, old.can_update, old._repo
            if reorder:
                order = load_order(found, self.is_active)
                self._loaded = [e.name for e in order.loaded]
                self._order_problems = {**order.left_out, **order.notes}
                for name, why in self._order_problems.items():
                    log.warning("extension %s: %s", name, why)
            for ext in found:
                ext.problems.extend(p for p in [self._order_problems.get(ext.name), *self._reported.get(ext.name, [])]
                                    if p)
            self._extensions = found
            return list(found)

    def all(self) -> list[Extension]:
        """Every extension folder, built-in first, each group by name (enabled or not)."""
        with self._lock:
            return list(self._extensions)

    def enabled(self) -> list[Extension]:
        """The extensions that load in this run, in load order (built-in, then user, alphabetical, then
        metadata.ini's Requires/Before/After). Disabled ones and those with a missing requirement are left out."""
        with self._lock:
            by_name = {e.name: e for e in self._extensions}
            return [by_name[n] for n in self._loaded if n in by_name]

    def get(self, name: str) -> Extension | None:
        with self._lock:
            return next((e for e in self._extensions if e.name == name), None)

    def report_problem(self, name: str, text: str) -> None:
        """Record a problem of extension `name` (the script loader: syntax error, missing module, failing hook).
        Shown in the Extensions tab's problem column and logged; the same text is recorded once."""
        with self._lock:
            known = self._reported.setdefault(name, [])
            if text in known:
                return
            known.append(text)
            ext = self.get(name)
            if ext is not None:
                ext.problems.append(text)
        log.warning("extension %s: %s", name, text)

    def clear_problems(self, name: str) -> None:
        with self._lock:
            self._reported.pop(name, None)
        self.refresh()

    # ----- install.py -----

    def run_installer(self, ext: Extension) -> InstallerOutcome | None:
        """Run ext's install.py now (None when it has none); a failure becomes one of its problems."""
        if not (ext.path / "install.py").is_file():
            return None
        outcome = run_installer(ext.name, ext.path, self.python)
        self.state.record(ext.path, outcome.ok)
        with self._lock:
            stale = [p for p in self._reported.get(ext.name, []) if p.startswith(f"install.py of {ext.name} failed")]
            for text in stale:
                self._reported[ext.name].remove(text)
        if not outcome.ok:
            self.report_problem(ext.name, outcome.message)
        self.refresh()
        return outcome

    def run_pending_installers(self) -> list[InstallerOutcome]:
        """install.py of each loading extension installed or changed since its last successful run."""
        outcomes = []
        for ext in self.enabled():
            if self.state.needs_run(ext.path):
                outcome = self.run_installer(ext)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    # ----- install from URL -----

    def check_allowed(self, what: str = "Installing extensions") -> None:
        if locked(self.flags):
            raise EaselError(f"{what} is disabled because Easel is reachable from other machines (--listen, "
                             f"--share or --server-name); start it with --enable-insecure-extension-access to allow it")

    def _clash(self, name: str, canonical: str | None = None) -> str | None:
        """Why `name` (or the clone's canonical name) cannot be installed, or None."""
        target = self.paths.extensions_dir / name
        for ext in self.refresh():
            if ext.name.lower() == name.lower() or (canonical and canonical in ext.names()):
                where = "built-in" if ext.is_builtin else f"installed at {ext.path}"
                source = f" from {ext.remote}" if ext.remote else ""
                return f"an extension named {ext.name!r} is already {where}{source}"
        if target.exists():
            return f"the folder {target} already exists"
        return None

    def install(self, url: str, branch: str | None = None, name: str | None = None) -> InstallResult:
        """git clone `url` (optionally `branch`) into `extensions/<name or repository name>` through a temporary
        folder (nothing half-written on failure), then run its install.py. EaselError for refusals; an install.py
        failure leaves the extension installed with the failure as its problem (see InstallResult.ok)."""
        self.check_allowed()
        url = git.check_url(url or "")
        name = folder_name(url, name)
        branch = (branch or "").strip() or None
        with self._install_lock:
            if clash := self._clash(name):
                raise self._refused(url, f"{clash}; choose another folder name or remove that one first")
            target = self._clone_into_place(url, branch, name)
        log.info("installed extension %s from %s into %s", name, url, target)
        self.refresh()
        ext = self.get(name)
        outcome = self.run_installer(ext) if ext is not None else None
        return InstallResult(name, target, outcome)

    def _refused(self, url: str, why: str) -> EaselError:
        message = f"cannot install {url}: {why}"
        log.error("%s", message)
        return EaselError(message)

    def _clone_into_place(self, url: str, branch: str | None, name: str) -> Path:
        target = self.paths.extensions_dir / name
        tmp = self.paths.extensions_dir / TMP_DIR / f"{name}-{uuid.uuid4().hex[:8]}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                git.clone(url, tmp, branch)
            except git.GitError as e:
                raise self._refused(url, e.message) from None
            if clash := self._clash(name, read_metadata(tmp).canonical_name):
                raise self._refused(url, f"its metadata.ini names it like an installed one: {clash}")
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            _remove_if_empty(tmp.parent)
        return target

    # ----- updates -----

    def _git_extensions(self, names: Iterable[str] | None) -> list[Extension]:
        if names is None:
            chosen = self.all()
        else:
            named = [(n, self.get(n)) for n in names]
            missing = [n for n, e in named if e is None]
            if missing:
                raise NotFound(f"no extension named {', '.join(map(repr, missing))}")
            chosen = [e for _, e in named if e is not None]
        return [e for e in chosen if not e.is_builtin]

    def check_updates(self, names: Iterable[str] | None = None) -> list[UpdateOutcome]:
        """`git fetch` each (user) extension and compare with its upstream, a few at a time."""
        exts = self._git_extensions(names)
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(self._check_one, exts))

    def _check_one(self, ext: Extension) -> UpdateOutcome:
        try:
            can_update, text = git.upstream_status(ext.path)
            outcome = UpdateOutcome(ext.name, True, can_update, text)
        except git.GitError as e:
            log.warning("extension %s: checking for updates: %s", ext.name, e.message)
            outcome = UpdateOutcome(ext.name, False, False, e.message)
        with self._lock:
            ext.update_status, ext.can_update = outcome.message, outcome.can_update
        return outcome

    def update(self, names: Iterable[str] | None = None) -> list[UpdateOutcome]:
        """`git pull --ff-only` the named (default: those found behind) extensions; install.py reruns at next start."""
        self.check_allowed("Updating extensions")
        exts = self._git_extensions(names) if names is not None else [e for e in self.all() if e.can_update]
        return [self._update_one(ext) for ext in exts]

    def _update_one(self, ext: Extension) -> UpdateOutcome:
        before = ext.commit_hash
        try:
            summary = git.pull(ext.path)
        except git.GitError as e:
            log.error("extension %s: update failed: %s", ext.name, e.message)
            return UpdateOutcome(ext.name, False, ext.can_update, e.message)
        after = ext.refresh_repo().commit_hash
        changed = before != after
        with self._lock:
            ext.can_update = False
            ext.update_status = "latest" if not changed else "updated: restart Easel to load it"
        text = f"updated to {after[:8]}; restart Easel to load it" if changed and after else summary
        log.info("extension %s: %s", ext.name, text)
        return UpdateOutcome(ext.name, True, False, text)

    # ----- available -----

    def index_url(self) -> str:
        return self.options.get(INDEX_KEY) if INDEX_KEY in self.options.table else ""

    def available(self, url: str | None = None) -> list[tuple[IndexEntry, bool]]:
        """The index's entries, each with whether it is installed (same remote or same folder name)."""
        entries = load_index(url if url is not None else self.index_url())
        installed = self.refresh()
        remotes = {normalize_url(e.remote) for e in installed if e.remote}
        names = {e.name.lower() for e in installed}
        return [(entry, normalize_url(entry.url) in remotes or folder_guess(entry.url) in names)
                for entry in entries]


def folder_guess(url: str) -> str:
    return url.strip().rstrip("/").rsplit("/", 1)[-1].removesuffix(".git").lower()


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
