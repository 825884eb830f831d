"""The settings store: typed values persisted to config.json, and frozen snapshots handed to jobs."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from modules.errors import EaselError, InvalidInput
from modules.options.frozen import NOTHING_FROZEN, FrozenSettings
from modules.options.table import SETTINGS, Setting

log = logging.getLogger(__name__)


class Snapshot(Mapping):
    """Read-only view of settings for one job; attribute access like A1111's `opts`."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # copy/pickle probe dunders before `_values` exists
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __reduce__(self):
        """Pickled as its values: a job's snapshot travels to a cluster worker (modules/cluster)."""
        return (Snapshot, (dict(self._values),))


def coerce(setting: Setting, value: Any) -> Any:
    """Check `value` against the row and return it in the row's type; InvalidInput names the setting."""
    kind = setting.kind
    try:
        if kind is bool and not isinstance(value, bool):
            raise TypeError
        if kind is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise TypeError
        if kind in (int, float) and isinstance(value, str):
            raise TypeError
        out: Any = kind(value) if kind in (int, float, str) else value
    except (TypeError, ValueError):
        raise InvalidInput(setting.key, f"expected {kind.__name__}, got {value!r}") from None
    if setting.choices is not None and out not in setting.choices:
        raise InvalidInput(setting.key, f"unknown value {out!r}", ", ".join(map(str, setting.choices)))
    if setting.minimum is not None and out < setting.minimum:
        raise InvalidInput(setting.key, f"{out} is below {setting.minimum}")
    if setting.maximum is not None and out > setting.maximum:
        raise InvalidInput(setting.key, f"{out} is above {setting.maximum}")
    return out


# Settings that make Easel reach other machines: set in config.json (edited while Easel is stopped), never by a
# request (POST /options, override_settings) or the Settings tab; docs/security.md.
CONFIG_FILE_ONLY = frozenset({"api_enable_requests", "api_forbid_local_requests", "api_useragent",
                              "extensions_index_url"})


def check_changeable(key: str, value: Any, current: Any, field: str | None = None) -> None:
    """A config-file-only setting may be sent back unchanged (clients post all of GET /options), never changed.

    >>> check_changeable("api_enable_requests", False, False)
    >>> check_changeable("api_enable_requests", True, False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.InvalidInput: api_enable_requests: can only be changed in config.json, ...
    """
    if key in CONFIG_FILE_ONLY and value != current:
        raise InvalidInput(field or key, "can only be changed in config.json, not by a request or the Settings tab",
                           "edit config.json while Easel is stopped; see docs/security.md")


class Options:
    """Owner of the settings. Unknown keys found in config.json are kept (an extension may define them later)."""

    def __init__(self, path: Path | None, table: Iterable[Setting] = SETTINGS,
                 frozen: FrozenSettings = NOTHING_FROZEN):
        self.path = path
        self.frozen = frozen
        self.table: dict[str, Setting] = {s.key: s for s in table}
        self._values: dict[str, Any] = {k: s.default for k, s in self.table.items()}
        self._lock = threading.RLock()
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise EaselError(f"settings file {path} is not valid JSON: {e}") from None
        for key, value in stored.items():
            setting = self.table.get(key)
            if setting is None:  # an extension's setting, or one from another version: kept as it is
                self._values[key] = value
                continue
            try:
                self._values[key] = coerce(setting, value)
            except InvalidInput as e:
                log.warning("config.json: %s; using the default %r", e, setting.default)

    def add(self, setting: Setting) -> None:
        """Register a setting (extensions at start-up); a value already stored in config.json is kept."""
        with self._lock:
            self.table[setting.key] = setting
            if setting.key not in self._values:
                self._values[setting.key] = setting.default
                return
            try:
                self._values[setting.key] = coerce(setting, self._values[setting.key])
            except InvalidInput as e:
                log.warning("config.json: %s; using the default %r", e, setting.default)
                self._values[setting.key] = setting.default

    def get(self, key: str) -> Any:
        with self._lock:
            if key not in self._values:
                raise InvalidInput("setting", f"unknown setting {key!r}")
            return self._values[key]

    def set(self, key: str, value: Any, save: bool = True) -> bool:
        """Set one setting; returns True when it changed. Persisted at once unless save=False."""
        return bool(self.update({key: value}, save=save))

    def update(self, changes: Mapping[str, Any], save: bool = True) -> list[str]:
        """Validate all changes first, then apply them together: a bad value changes nothing."""
        with self._lock:
            checked = {}
            for key, value in changes.items():
                if key not in self.table:
                    raise InvalidInput(key, "unknown setting")
                checked[key] = coerce(self.table[key], value)
                check_changeable(key, checked[key], self._values.get(key))
                self._check_frozen(key, checked[key], self._values.get(key), key)
            changed = [k for k, v in checked.items() if self._values.get(k) != v]
            values = {**self._values, **checked}
            if changed and save:
                self._write(values)  # first: a failed write leaves memory as the file is, and a retry saves
            self._values = values
        for key in changed:
            for listener in self._listeners.get(key, []):
                listener()
        return changed

    def _check_frozen(self, key: str, value: Any, current: Any, field: str) -> None:
        """A frozen setting may be sent back unchanged (clients post all of GET /options), never changed."""
        why = self.frozen.reason(key, self.table[key].section) if value != current else None
        if why is not None:
            raise InvalidInput(field, why, "its current value; change it in config.json with Easel stopped")

    def onchange(self, key: str, listener: Callable[[], None]) -> None:
        self._listeners.setdefault(key, []).append(listener)

    def save(self) -> None:
        with self._lock:
            self._write(self._values)

    def _write(self, values: Mapping[str, Any]) -> None:
        """config.json replaced whole (a reader never sees half a file), through a temporary file of this writer's
        own, so that another writer of the same file cannot move it away in between."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(values, indent=4, ensure_ascii=False)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def data(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def snapshot(self, overrides: Mapping[str, Any] | None = None) -> Snapshot:
        """Frozen values for one job, with per-request overrides validated (override_settings)."""
        with self._lock:
            values = dict(self._values)
            for key, value in (overrides or {}).items():
                if key not in self.table:
                    raise InvalidInput(f"override_settings.{key}", "unknown setting")
                checked = coerce(self.table[key], value)
                check_changeable(key, checked, values.get(key), f"override_settings.{key}")
                self._check_frozen(key, checked, values.get(key), f"override_settings.{key}")
                values[key] = checked
        return Snapshot(values)
