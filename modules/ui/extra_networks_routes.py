"""A1111's routes of the Extra Networks browser, which its page and extensions' scripts call:
`/sd_extra_networks/thumb?filename=` (a preview image), `/sd_extra_networks/metadata?page=&item=` (a model file's
metadata, for the card's button) and `/sd_extra_networks/get-single-card?page=&tabname=&name=` (one card's HTML,
A1111's `extraNetworksRefreshSingleCard`).

They sit beside the page and follow its login (webui.py `guard_routes`; docs/security.md). A thumbnail is served
only from a folder of a page (the model folders, or those an extension's page names) and only as an image file: a
path that climbs out (`..`) or names another kind of file is refused.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from modules.ui.extra_networks_cards import PREVIEW_SUFFIXES, ViewSettings

ROUTE = "/sd_extra_networks"


def confined(filename: str, roots: list[Path], suffixes: tuple[str, ...] = PREVIEW_SUFFIXES) -> Path | None:
    """The image file `filename` names when it lies inside one of `roots` (after `..` is resolved) and has one of
    the image `suffixes`; None otherwise.

    >>> confined("/m/Lora/../../etc/passwd.png", [Path("/m/Lora")]) is None
    True
    """
    if not filename or "\x00" in filename:
        return None
    path = os.path.normpath(os.path.abspath(filename))
    if Path(path).suffix.lower().lstrip(".") not in suffixes:
        return None
    for root in roots:
        base = os.path.normpath(os.path.abspath(str(root)))
        if os.path.commonpath([base, path]) == base and path != base and os.path.isfile(path):
            return Path(path)
    return None


def find_page(pages: list, name: str):
    """A page by A1111's `name` (its title, lower case) or its id (`textual_inversion`)."""
    wanted = (name or "").lower()
    return next((p for p in pages if p.title.lower() == wanted or p.page == wanted), None)


def mount(server, pages: Callable[[], list], view: Callable[[], ViewSettings],
          samples_format: Callable[[], str]) -> None:
    """The routes on the FastAPI `server`; `pages()` gives the page's current pages."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse, JSONResponse

    @server.get(ROUTE + "/thumb", include_in_schema=False)
    def thumb(filename: str = ""):
        roots = [root for page in pages() for root in page.preview_dirs()]
        suffixes = (*PREVIEW_SUFFIXES, samples_format().lower())
        file = confined(filename, roots, suffixes)
        if file is None:
            raise HTTPException(status_code=404, detail="no such preview image in a model folder")
        return FileResponse(file, headers={"Accept-Ranges": "bytes"})

    @server.get(ROUTE + "/metadata", include_in_schema=False)
    def metadata(page: str = "", item: str = ""):
        found = find_page(pages(), page)
        data = found.metadata(item) if found is not None else None
        if not data:
            return JSONResponse({})
        shown = {k: v for k, v in data.items() if k != "ssmd_cover_images"}  # pictures, too big to show as text
        return JSONResponse({"metadata": json.dumps(shown, indent=4, ensure_ascii=False)})

    @server.get(ROUTE + "/get-single-card", include_in_schema=False)
    def single_card(page: str = "", tabname: str = "", name: str = ""):
        found = find_page(pages(), page)
        if found is None or tabname not in ("txt2img", "img2img"):
            raise HTTPException(status_code=404, detail="no such extra networks page")
        card = found.card(tabname, name, view())
        if card is None:
            raise HTTPException(status_code=404, detail=f"no card named {name!r}")
        return JSONResponse({"html": card})
