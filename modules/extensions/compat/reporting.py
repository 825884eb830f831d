"""Isolation of extension code (docs/architecture.md §5): every call into an extension goes through `guarded`,
and a failure
is reported once per (extension, hook) with the extension's name, then the run goes on."""
from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("easel.extensions")


@dataclass(frozen=True)
class Failure:
    extension: str
    hook: str
    error: str
    trace: str


class FailureLog:
    """Failures of extension code since start-up; each (extension, hook) is logged once, counted after that."""

    def __init__(self):
        self._lock = threading.Lock()
        self.failures: list[Failure] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.listeners: list = []  # callables (Failure) -> None, e.g. the extension manager's problem column

    def record(self, extension: str, hook: str, exc: BaseException) -> None:
        key = (extension, hook)
        with self._lock:
            first = key not in self.counts
            self.counts[key] = self.counts.get(key, 0) + 1
            if not first:
                return
            failure = Failure(extension, hook, f"{type(exc).__name__}: {exc}",
                              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            self.failures.append(failure)
        log.error("extension %s failed in %s: %s\n%s", extension, hook, failure.error, failure.trace)
        for listener in list(self.listeners):
            try:
                listener(failure)
            except Exception:  # a listener must not turn one failure into two
                log.exception("failure listener")

    def clear(self) -> None:
        with self._lock:
            self.failures.clear()
            self.counts.clear()


FAILURES = FailureLog()

# folder of an extension → its name; filled by the loader, read to name the owner of a script or callback
_EXTENSION_OF_FOLDER: dict[Path, str] = {}
# file as given → `extension_of`'s answer: asked for every script around every component of the page (thousands of
# times), and resolving paths each time cost a few tenths of a second of the start-up (docs/architecture.md §4)
_OWNER_OF_FILE: dict[str, str] = {}


def register_extension_folder(folder: Path, name: str) -> None:
    _EXTENSION_OF_FOLDER[Path(folder).resolve()] = name
    _OWNER_OF_FILE.clear()


def extension_folders() -> list[Path]:
    """The folders of the extensions loaded (resolved paths)."""
    return list(_EXTENSION_OF_FOLDER)


def extension_of(path) -> str:
    """The extension a file belongs to (its folder's name), or the file name when it is not in one."""
    if not path:
        return "unknown"
    owner = _OWNER_OF_FILE.get(str(path))
    if owner is None:
        owner = _OWNER_OF_FILE[str(path)] = _owner_of(Path(path).resolve())
    return owner


def _owner_of(file: Path) -> str:
    for folder, name in _EXTENSION_OF_FOLDER.items():
        if folder == file or folder in file.parents:
            return name
    return file.parent.parent.name if file.parent.name == "scripts" else file.stem


def guarded(extension: str, hook: str, fn, *args, default=None, **kwargs):
    """fn(*args, **kwargs); on an exception the failure is recorded and `default` returned."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - isolating extension code is the point
        FAILURES.record(extension, hook, e)
        return default
