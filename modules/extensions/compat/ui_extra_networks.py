"""A1111's `modules.ui_extra_networks`: the registry of extra-network pages (the card tabs under the prompt).

Pages an extension registers are kept in `extra_pages`; Easel's page builds its own LoRA and embedding cards
(modules/ui) and does not show pages registered here (docs/a1111-compat.md).
"""
from __future__ import annotations

import html
import urllib.parse

extra_pages: list = []
allowed_dirs: set = set()


class ExtraNetworksPage:
    """Base of a page: `list_items()` yields dicts (name, filename, preview, search_term, …)."""

    def __init__(self, title: str):
        self.title = title
        self.name = title.lower()
        self.extra_networks_tabname = self.name.replace(" ", "_")
        self.id_page = self.name.replace(" ", "_")
        self.card_page = ""
        self.allow_prompt = True
        self.allow_negative_prompt = False
        self.metadata: dict = {}
        self.items: dict = {}
        self.lister = None

    def refresh(self) -> None:
        """Subclasses re-read their items here."""

    def read_user_metadata(self, item, use_cache: bool = True) -> None:
        item["user_metadata"] = item.get("user_metadata") or {}

    def link_preview(self, filename: str) -> str:
        quoted = urllib.parse.quote(filename.replace("\\", "/"))
        return f"./sd_extra_networks/thumb?filename={quoted}"

    def search_terms_from_path(self, filename: str, possible_directories=None) -> str:
        return html.escape(filename.replace("\\", "/"))

    def list_items(self):
        raise NotImplementedError

    def allowed_directories_for_previews(self) -> list:
        return []

    def get_sort_keys(self, path: str) -> dict:
        import os

        stat = os.stat(path) if os.path.exists(path) else None
        return {"date_created": int(stat.st_ctime) if stat else 0, "date_modified": int(stat.st_mtime) if stat else 0,
                "name": os.path.basename(path).lower(), "path": path.lower()}


def quote_js(s: str) -> str:
    r"""`s` as a double-quoted JavaScript string literal (backslashes and quotes escaped), for onclick attributes.

    >>> print(quote_js('say "hi" \\ bye'))
    "say \"hi\" \\ bye"
    """
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def register_page(page: ExtraNetworksPage) -> None:
    extra_pages.append(page)
    allowed_dirs.update(str(d) for d in page.allowed_directories_for_previews())


def initialize() -> None:
    extra_pages.clear()
    allowed_dirs.clear()
