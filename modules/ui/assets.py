"""The browser side: `javascript/*.js` and `style.css` of the install folder and of every extension folder,
served from one route and loaded into the page's <head>."""
from __future__ import annotations

import html
from pathlib import Path

ASSET_ROUTE = "/easel-assets"


def extension_roots(paths, disabled: bool = False) -> list[Path]:
    """Extension folders whose browser files are loaded: built-in ones, then the user's, each sorted by name."""
    if disabled:
        return []
    roots = []
    for base in (paths.builtin_extensions_dir, paths.extensions_dir):
        if base.is_dir():
            roots.extend(sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return roots


def asset_files(paths, disabled_extensions: bool = False) -> tuple[list[Path], list[Path]]:
    """(scripts, stylesheets) in load order: core first, then extensions (A1111's order)."""
    scripts, styles = [], []
    for root in [paths.install_dir, *extension_roots(paths, disabled_extensions)]:
        folder = root / "javascript"
        if folder.is_dir():
            scripts.extend(sorted(folder.glob("*.js")))
            scripts.extend(sorted(folder.glob("*.mjs")))
        if (root / "style.css").is_file():
            styles.append(root / "style.css")
    return scripts, styles


def asset_table(paths, disabled_extensions: bool = False) -> dict[str, Path]:
    """URL name → file, for the serving route: only these files can be fetched (no path traversal)."""
    scripts, styles = asset_files(paths, disabled_extensions)
    table = {}
    for i, file in enumerate([*scripts, *styles]):
        table[f"{i}/{file.name}"] = file
    return table


def head_html(table: dict[str, Path]) -> str:
    """<script> and <link> tags for every served file; a version query defeats stale caches after edits.

    >>> head_html({"0/a.js": Path("/x/a.js"), "1/style.css": Path("/x/style.css")}).count("easel-assets")
    2
    """
    tags = []
    for name, file in table.items():
        version = int(file.stat().st_mtime) if file.exists() else 0
        url = html.escape(f"{ASSET_ROUTE}/{name}?v={version}")
        if file.suffix == ".css":
            tags.append(f'<link rel="stylesheet" href="{url}">')
        else:
            kind = ' type="module"' if file.suffix == ".mjs" else ""
            tags.append(f'<script src="{url}"{kind}></script>')
    return "\n".join(tags)


def mount(server, table: dict[str, Path]) -> None:
    """GET /easel-assets/<n>/<name> on the FastAPI app."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    @server.get(ASSET_ROUTE + "/{index}/{name}", include_in_schema=False)
    def asset(index: str, name: str):
        file = table.get(f"{index}/{name}")
        if file is None or not file.is_file():
            raise HTTPException(status_code=404, detail="no such asset")
        media = "text/css" if file.suffix == ".css" else "text/javascript"
        return FileResponse(file, media_type=media, headers={"Cache-Control": "no-cache"})
