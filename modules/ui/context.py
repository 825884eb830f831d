"""What every tab builder gets: the App, the UI defaults (ui-config.json) and the registry of named fields.

Fields are registered per tab under the request's field names, so paste-from-infotext, "Send to", the browser's
saved state and Settings → Defaults all find them without each tab listing them again.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modules.errors import EaselError
from modules.ui.progress import WaitLine

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

    from modules.app import App
    from modules.prompts.styles import StyleDatabase
    from modules.ui.localization import Localizations

log = logging.getLogger(__name__)


class UiConfig:
    """ui-config.json: defaults for UI fields under A1111's keys, `"<tab>/<label>/value"`."""

    def __init__(self, path: Path | None):
        self.path = path
        self.values: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                self.values = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as e:
                raise EaselError(f"UI defaults file {path} is not valid JSON: {e}") from None

    def default(self, key: str, value: Any) -> Any:
        return self.values.get(f"{key}/value", value)

    def save(self, changes: dict[str, Any]) -> None:
        """Store `{"<tab>/<label>": value}` and write the file atomically."""
        self.values.update({f"{k}/value": v for k, v in changes.items()})
        if self.path is None:
            return
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.values, indent=4, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)


@dataclass
class UiContext:
    app: App
    ui_config: UiConfig
    line: WaitLine = field(default_factory=WaitLine)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # tab → field name → component
    keys: dict[str, Any] = field(default_factory=dict)  # "<tab>/<label>" → component (Defaults tab)
    persist: list = field(default_factory=list)  # components whose values the browser keeps over a reload
    after_build: list = field(default_factory=list)  # wiring that needs every tab to exist (Send to …)
    shared: dict[str, Any] = field(default_factory=dict)  # components other tabs reach: tabs, images, …
    styles: StyleDatabase | None = None
    localizations: Localizations | None = None  # the Settings choices and the page's data
    _tokenizer: CLIPTokenizer | None = None

    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.app)
        return self._tokenizer

    def add(self, tab: str, name: str, factory: Callable, *, keep: bool = True, **kwargs):
        """Create a component with its ui-config default, register it as `tab`'s field `name`, return it."""
        key = f"{tab}/{kwargs.get('label', name)}"
        if "value" in kwargs:
            wanted = self.ui_config.default(key, kwargs["value"])
            choices = kwargs.get("choices")
            allowed = [c[1] if isinstance(c, tuple) else c for c in choices or ()]
            if choices is None or all(w in allowed for w in (wanted if isinstance(wanted, list) else [wanted])):
                kwargs["value"] = wanted
            else:
                log.warning("ui-config.json: %s = %r is not one of its choices; ignored", key, wanted)
        component = factory(**kwargs)
        self.fields.setdefault(tab, {})[name] = component
        self.keys[key] = component
        if keep:
            self.persist.append(component)
        return component

    def tab_fields(self, tab: str) -> dict[str, Any]:
        return self.fields.get(tab, {})


def load_tokenizer(app):
    """The CLIP tokenizer for the token counters; read from the shipped files, no model needed."""
    from modules.conditioning.tokenizer import load_clip_tokenizer

    return load_clip_tokenizer(app.paths.configs_dir)
