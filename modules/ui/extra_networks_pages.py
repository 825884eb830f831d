"""The pages of the Extra Networks browser: Easel's own (Textual Inversion, Hypernetworks, Checkpoints, Lora, in
A1111's order) and those extensions register through A1111's `modules.ui_extra_networks.register_page` (the script
host hands them over as objects with the same methods as `BuiltinPage`).

A page is asked for its HTML per tab (txt2img, img2img); it lists its folder once and again on `refresh`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from modules.ui.extra_networks_cards import PageView, PaneIds, ViewSettings, card_html, page_html, page_id
from modules.ui.extra_networks_sources import (checkpoint_view, embedding_view, hypernetwork_view, lora_view,
                                               safetensors_metadata)


class CardPage(Protocol):
    title: str
    page: str  # A1111's extra_networks_tabname: lora, textual_inversion, …
    allow_prompt: bool
    allow_negative_prompt: bool

    def html(self, tab: str, view: ViewSettings) -> str: ...
    def refresh(self) -> None: ...
    def preview_dirs(self) -> list[Path]: ...
    def metadata(self, name: str) -> dict | None: ...
    def card(self, tab: str, name: str, view: ViewSettings) -> str | None: ...


class BuiltinPage:
    """One of Easel's pages: `lister()` reads its folders into a PageView, kept until `refresh`."""

    def __init__(self, title: str, lister: Callable[[], PageView], roots: Callable[[], list[Path]],
                 allow_prompt: bool = True, allow_negative_prompt: bool = False):
        self.title, self.page = title, page_id(title)
        self.allow_prompt, self.allow_negative_prompt = allow_prompt, allow_negative_prompt
        self._lister, self._roots = lister, roots
        self._view: PageView | None = None
        self._lock = threading.Lock()

    def listing(self) -> PageView:
        with self._lock:
            if self._view is None:
                self._view = self._lister()
            return self._view

    def refresh(self) -> None:
        with self._lock:
            self._view = None

    def html(self, tab: str, view: ViewSettings) -> str:
        return page_html(PaneIds(tab, self.page), self.listing(), view)

    def preview_dirs(self) -> list[Path]:
        return list(self._roots())

    def _find(self, name: str):
        return next((c for c in self.listing().cards if c.name == name), None)

    def metadata(self, name: str) -> dict | None:
        """A model file's own metadata (a LoRA's safetensors header), for the card's metadata button."""
        card = self._find(name)
        if card is None or not card.filename.lower().endswith(".safetensors"):
            return None
        return safetensors_metadata(Path(card.filename)) or None

    def card(self, tab: str, name: str, view: ViewSettings) -> str | None:
        """One card, its folder read again (A1111's get-single-card, after its preview or description changed)."""
        self.refresh()
        card = self._find(name)
        if card is None:
            return None
        return card_html(PaneIds(tab, self.page), card, view, self.listing().allow_negative)


def builtin_pages(app) -> list[BuiltinPage]:
    """Easel's pages over the App's folders (the folders are read when a page is first shown)."""
    paths, options = app.paths, app.options

    def fmt() -> str:
        return str(options.get("samples_format") or "png")

    def embedding_dirs() -> list[Path]:
        db = getattr(app.services, "embeddings", None)
        return list(db.folders) if db is not None else [paths.embeddings_dir]

    def lora_dir() -> Path:
        library = getattr(app.services, "loras", None)
        return library.folder if library is not None else paths.lora_dir

    def prefer_filename() -> bool:  # A1111's Lora setting, a row of the table when extensions are loaded
        return "lora_preferred_name" in options.table and options.get("lora_preferred_name") == "Filename"

    hypernetworks = paths.models_dir / "hypernetworks"
    return [
        BuiltinPage("Textual Inversion", lambda: embedding_view(embedding_dirs(), fmt()), embedding_dirs,
                    allow_negative_prompt=True),
        BuiltinPage("Hypernetworks", lambda: hypernetwork_view(hypernetworks), lambda: [hypernetworks]),
        BuiltinPage("Checkpoints", lambda: checkpoint_view(app.models.list_checkpoints(refresh=True),
                                                           list(paths.checkpoint_dirs), fmt()),
                    lambda: list(paths.checkpoint_dirs), allow_prompt=False),
        BuiltinPage("Lora", lambda: lora_view(lora_dir(), fmt(), prefer_filename()), lambda: [lora_dir()]),
    ]


def unique_pages(pages: list) -> tuple[list, list]:
    """(pages with distinct ids, those left out): a second page with the same id (an extension's "Lora" beside
    Easel's) would give the page two elements of each id, and the scripts would reach only the first.

    >>> class P:
    ...     def __init__(self, page): self.page = page
    >>> [[p.page for p in part] for part in unique_pages([P("lora"), P("wildcards"), P("lora")])]
    [['lora', 'wildcards'], ['lora']]
    """
    kept: dict[str, object] = {}
    dropped = []
    for page in pages:
        if page.page in kept:
            dropped.append(page)
        else:
            kept[page.page] = page
    return list(kept.values()), dropped


def in_preferred_order(pages: list, order: str) -> list:
    """A1111's `ui_extra_networks_tab_reorder`: comma-separated parts of page names, those matching first.

    >>> class P:
    ...     def __init__(self, title): self.title = title
    >>> [p.title for p in in_preferred_order([P("Textual Inversion"), P("Checkpoints"), P("Lora")], "lora, check")]
    ['Lora', 'Checkpoints', 'Textual Inversion']
    """
    wanted = [part.strip().lower() for part in (order or "").split(",") if part.strip()]

    def score(item) -> tuple[int, int]:
        index, page = item
        name = page.title.lower()
        return next((i for i, part in enumerate(wanted) if part in name), len(wanted)), index

    return [page for _, page in sorted(enumerate(pages), key=score)]
