"""A1111's `modules.ui_extra_networks`: the pages of the Extra Networks browser that extensions register.

A page an extension gives `register_page` (an `ExtraNetworksPage` subclass with `list_items()`, usually registered
in `on_before_ui`) becomes a tab beside Easel's own (modules/ui/extra_networks.py): the script host hands the page
each registered one wrapped in `PageView`, which answers what the page asks of a tab. Items are A1111's dicts (name,
filename, preview, description, search_terms, prompt or onclick, sort_keys, metadata); the cards are drawn by
Easel's renderer (modules/ui/extra_networks_cards.py) with A1111's markup.
"""
from __future__ import annotations

import html
import json
import os
import urllib.parse
from pathlib import Path

from modules.extensions.compat.reporting import extension_of, guarded
from modules.ui.extra_networks_cards import Card, PageView as _View, PaneIds, card_html, in_hidden_folder, \
    no_cards_html, page_html, preview_candidates, relative_folder
from modules.ui.extra_networks_cards import quote_js as _quote_js

extra_pages: list = []
allowed_dirs: set = set()
default_allowed_preview_extensions = ["png", "jpg", "jpeg", "webp", "gif"]


def quote_js(s: str) -> str:
    r"""`s` as a double-quoted JavaScript string literal (backslashes and quotes escaped), for onclick attributes.

    >>> print(quote_js('say "hi" \\ bye'))
    "say \"hi\" \\ bye"
    """
    return _quote_js(s)


def _options():
    from modules.extensions.compat import binding

    return binding.app().options if binding.is_bound() else None


def _samples_format() -> str:
    options = _options()
    return str(options.get("samples_format") or "png") if options is not None else "png"


def _view():
    from modules.ui.extra_networks import view_settings
    from modules.ui.extra_networks_cards import ViewSettings

    options = _options()
    return view_settings(options) if options is not None else ViewSettings()


def get_user_metadata(filename: str | None, lister=None) -> dict:
    """A1111's `<file without extension>.json` beside a model ({} when absent)."""
    if not filename:
        return {}
    try:
        data = json.loads(Path(os.path.splitext(filename)[0] + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ExtraNetworksPage:
    """Base of a page: subclasses give `list_items()` (dicts) and `allowed_directories_for_previews()`."""

    def __init__(self, title: str):
        self.title = title
        self.name = title.lower()
        self.extra_networks_tabname = self.name.replace(" ", "_")
        self.id_page = self.extra_networks_tabname
        self.card_page = ""
        self.allow_prompt = True
        self.allow_negative_prompt = False
        self.metadata: dict = {}
        self.items: dict = {}
        self.lister = None

    def refresh(self) -> None:
        """Subclasses re-read their items here."""

    def read_user_metadata(self, item, use_cache: bool = True) -> None:
        metadata = get_user_metadata(item.get("filename"))
        if metadata.get("description") is not None:
            item["description"] = metadata["description"]
        item["user_metadata"] = metadata

    def link_preview(self, filename: str) -> str:
        quoted = urllib.parse.quote(filename.replace("\\", "/"))
        try:
            mtime = int(os.path.getmtime(filename))
        except OSError:
            mtime = 0
        return f"./sd_extra_networks/thumb?filename={quoted}&mtime={mtime}"

    def search_terms_from_path(self, filename: str, possible_directories=None) -> str:
        """The path from the parent of the folder holding it (A1111's search term); "" outside those folders."""
        absolute = os.path.abspath(filename)
        folders = self.allowed_directories_for_previews() if possible_directories is None else possible_directories
        for folder in folders:
            parent = os.path.dirname(os.path.abspath(folder))
            if absolute.startswith(parent):
                return os.path.relpath(absolute, parent)
        return ""

    def find_preview(self, path: str) -> str | None:
        """The preview image beside `path` (a model file without its extension), as a thumbnail URL."""
        for candidate in preview_candidates(path, (_samples_format(),)):
            if os.path.isfile(candidate):
                return self.link_preview(candidate)
        return None

    def find_embedded_preview(self, path, name, metadata):
        return None  # cover images inside safetensors metadata are not served

    def find_description(self, path: str) -> str | None:
        for candidate in (f"{path}.txt", f"{path}.description.txt"):
            try:
                with open(candidate, encoding="utf-8", errors="replace") as f:
                    return f.read()
            except OSError:
                continue
        return None

    def get_sort_keys(self, path: str) -> dict:
        stat = os.stat(path) if os.path.exists(path) else None
        return {"date_created": int(stat.st_ctime) if stat else 0, "date_modified": int(stat.st_mtime) if stat else 0,
                "name": os.path.basename(path).lower(), "path": path.lower()}

    def list_items(self):
        raise NotImplementedError

    def create_item(self, name, index=None, enable_filter=True):
        raise NotImplementedError

    def allowed_directories_for_previews(self) -> list:
        return []

    # ---- drawing (Easel's renderer, A1111's markup)
    def _fill(self, empty: bool = False) -> None:
        self.metadata = {}
        self.items = {} if empty else {item["name"]: item for item in self.list_items()}
        for item in self.items.values():
            if item.get("metadata"):
                self.metadata[item["name"]] = item["metadata"]
            if "user_metadata" not in item:
                self.read_user_metadata(item)

    def create_item_html(self, tabname: str, item: dict, template=None) -> str:
        return card_html(PaneIds(tabname, self.extra_networks_tabname), self._card(item), _view(),
                         self.allow_negative_prompt)

    def create_html(self, tabname: str, *, empty: bool = False) -> str:
        self._fill(empty)
        dirs = [str(d) for d in self.allowed_directories_for_previews()]
        cards = tuple(self._card(item) for item in self.items.values())
        view = _View(cards, tuple(dirs), self.allow_negative_prompt)
        return page_html(PaneIds(tabname, self.extra_networks_tabname), view, _view())

    def _card(self, item: dict) -> Card:
        filename = str(item.get("filename") or "")
        folder = ""
        for root in self.allowed_directories_for_previews():
            root = os.path.abspath(str(root))
            if filename and os.path.abspath(filename).startswith(root + os.sep):
                folder = relative_folder(os.path.relpath(os.path.abspath(filename), root))
                break
        onclick = item.get("onclick")
        return Card(name=str(item["name"]), filename=filename, prompt=item.get("prompt"),
                    negative_prompt=item.get("negative_prompt"),
                    onclick=html.unescape(onclick) if onclick is not None else None,  # A1111 escapes it already
                    preview=item.get("preview"), description=str(item.get("description") or ""),
                    search_terms=tuple(str(t) for t in item.get("search_terms") or ()),
                    sort_keys=tuple((str(k), v) for k, v in (item.get("sort_keys") or {}).items()),
                    has_metadata=bool(item.get("metadata")), hidden=in_hidden_folder(folder), folder=folder)


class PageView:
    """A registered page as the Easel page asks for it (modules/ui/extra_networks_pages.py `CardPage`)."""

    def __init__(self, page: ExtraNetworksPage):
        self.extension_page = page
        self.title = str(page.title)
        self.page = page.extra_networks_tabname
        self.allow_prompt = bool(getattr(page, "allow_prompt", True))
        self.allow_negative_prompt = bool(getattr(page, "allow_negative_prompt", False))

    def _owner(self) -> str:
        import inspect

        try:
            return extension_of(inspect.getfile(type(self.extension_page)))
        except (TypeError, OSError):
            return type(self.extension_page).__module__

    def html(self, tab: str, view) -> str:
        """The page's pane; a page whose code fails is reported on its extension's row and says so in its tab."""
        drawn = guarded(self._owner(), f"{self.title}: create_html", self.extension_page.create_html, tab)
        if drawn is None:
            return no_cards_html([], f"{self.title}: this page failed (see the Extensions tab)")
        return drawn

    def refresh(self) -> None:
        guarded(self._owner(), f"{self.title}: refresh", self.extension_page.refresh)

    def _created(self, name: str):
        """The item made afresh; pages written before A1111 1.7 take no `enable_filter`, some only list."""
        try:
            return self.extension_page.create_item(name, enable_filter=False)
        except TypeError:
            return self.extension_page.create_item(name)
        except NotImplementedError:
            return None

    def preview_dirs(self) -> list[Path]:
        return [Path(d) for d in self.extension_page.allowed_directories_for_previews() if d]

    def metadata(self, name: str) -> dict | None:
        found = self.extension_page.metadata.get(name)
        return found if isinstance(found, dict) else None

    def card(self, tab: str, name: str, view) -> str | None:
        page = self.extension_page
        item = guarded(self._owner(), f"{self.title}: create_item", self._created, name) or page.items.get(name)
        if item is None:
            return None
        page.items[name] = item
        page.read_user_metadata(item, use_cache=False)
        return page.create_item_html(tab, item)


def register_page(page: ExtraNetworksPage) -> None:
    """A page for the Extra Networks browser (call it in `on_before_ui`, before the page is built)."""
    extra_pages.append(page)
    allowed_dirs.clear()
    allowed_dirs.update(str(d) for p in extra_pages for d in p.allowed_directories_for_previews())


def page_views() -> list[PageView]:
    """The registered pages, for the script host to hand to the page."""
    return [PageView(page) for page in extra_pages]


def initialize() -> None:
    extra_pages.clear()
    allowed_dirs.clear()
