"""The browser side: `javascript/*.js` and `style.css` of the install folder and of every extension that loads,
served from one route and loaded into the page's <head>; extensions' `localizations/*.json`; and A1111's
`/file=<path>` route for files inside those extension folders (images, fonts, … their scripts and CSS refer to)
and in the `tmp` folders extensions write for their scripts. Only files of that table or under those folders can be
fetched: no path traversal, no hidden files (.git)."""
from __future__ import annotations

import html
from pathlib import Path

ASSET_ROUTE = "/easel-assets"
LOCALIZATION_ROUTE = ASSET_ROUTE + "/localizations"
FILE_ROUTE = "/file="
CORE_FILE_DIRS = ("javascript", "html")  # install-folder files the page may fetch with file= (as in A1111)
# A1111 extensions write files for their own scripts to fetch as `file=tmp/<name>` into `tmp` of the web UI's root
# (modules.paths.script_path: Easel's install folder); `tmp` of the data dir is served the same way
TMP_DIR = "tmp"


class AssetTable(dict):
    """URL name → file, plus the folders `file=` may serve from, the folders relative `file=` paths start from,
    and the localization files by name."""

    def __init__(self, files=(), roots=(), localizations=None, bases=()):
        super().__init__(files)
        self.roots: list[Path] = list(roots)
        self.localizations: dict[str, Path] = dict(localizations or {})
        self.bases: list[Path] = list(bases)


def extension_roots(paths, disabled: bool = False, extensions=None) -> list[Path]:
    """Folders of the extensions whose browser files load: the manager's enabled ones in load order; without a
    manager, every extension folder (built-in ones, then the user's, each sorted by name)."""
    if disabled:
        return []
    if extensions is not None:
        return [ext.path for ext in extensions.enabled()]
    roots = []
    for base in (paths.builtin_extensions_dir, paths.extensions_dir):
        if base.is_dir():
            roots.extend(sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")))
    return roots


def asset_files(paths, disabled_extensions: bool = False, extensions=None) -> tuple[list[Path], list[Path]]:
    """(scripts, stylesheets) in load order: core first, then extensions (A1111's order)."""
    scripts, styles = [], []
    for root in [paths.install_dir, *extension_roots(paths, disabled_extensions, extensions)]:
        folder = root / "javascript"
        if folder.is_dir():
            scripts.extend(sorted(folder.glob("*.js")))
            scripts.extend(sorted(folder.glob("*.mjs")))
        if (root / "style.css").is_file():
            styles.append(root / "style.css")
    return scripts, styles


def localization_files(roots: list[Path]) -> dict[str, Path]:
    """`localizations/*.json` of the install folder and the extensions: name (file stem) → file, later ones win."""
    found = {}
    for root in roots:
        folder = root / "localizations"
        if folder.is_dir():
            found.update({f.stem: f for f in sorted(folder.glob("*.json")) if f.is_file()})
    return found


def asset_table(paths, disabled_extensions: bool = False, extensions=None, allowed=()) -> AssetTable:
    """What the page loads and may fetch. `extensions` is the App's ExtensionManager (only its enabled()
    extensions count); `disabled_extensions` (--disable-all-extensions) leaves every extension out; `allowed`:
    more folders `file=` may serve from (A1111's --gradio-allowed-path)."""
    roots = extension_roots(paths, disabled_extensions, extensions)
    scripts, styles = asset_files(paths, disabled_extensions, extensions)
    files = {f"{i}/{file.name}": file for i, file in enumerate([*scripts, *styles])}
    file_roots = [*roots, *(paths.install_dir / d for d in CORE_FILE_DIRS), paths.install_dir / TMP_DIR,
                  paths.data_dir / TMP_DIR, *(Path(p).expanduser().resolve() for p in allowed)]
    return AssetTable(files, file_roots, localization_files([paths.install_dir, *roots]),
                      bases=[paths.install_dir, paths.data_dir])


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


def _inside(file: Path, root: Path) -> bool:
    """`file` lies in `root` (both resolved), with no hidden part (.git, .env) on the way."""
    try:
        relative = file.relative_to(root.resolve())
    except ValueError:
        return False
    return not any(part.startswith(".") for part in relative.parts)


def resolve_file(path: str, roots: list[Path], bases: list[Path]) -> Path | None:
    """The file `file=<path>` names, if it is a file inside one of `roots`; `path` may be absolute or relative to
    one of `bases` (the install folder, the data dir), as A1111's relative `file=extensions/x/img.png` is."""
    if not path or "\x00" in path:
        return None
    given = Path(path)
    candidates = [given] if given.is_absolute() else [base / given for base in bases]
    for candidate in candidates:
        try:
            file = candidate.resolve()
        except (OSError, RuntimeError):
            continue
        if file.is_file() and any(_inside(file, root) for root in roots):
            return file
    return None


def mount(server, table: dict[str, Path]) -> None:
    """GET /easel-assets/<n>/<name>, /easel-assets/localizations/<name>.json and /file=<path> on the FastAPI app."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    roots, bases = getattr(table, "roots", []), getattr(table, "bases", [])
    localizations = getattr(table, "localizations", {})

    @server.get(LOCALIZATION_ROUTE + "/{name}.json", include_in_schema=False)
    def localization(name: str):
        file = localizations.get(name)
        if file is None or not file.is_file():
            raise HTTPException(status_code=404, detail="no such localization")
        return FileResponse(file, media_type="application/json", headers={"Cache-Control": "no-cache"})

    @server.get(ASSET_ROUTE + "/{index}/{name}", include_in_schema=False)
    def asset(index: str, name: str):
        file = table.get(f"{index}/{name}")
        if file is None or not file.is_file():
            raise HTTPException(status_code=404, detail="no such asset")
        media = "text/css" if file.suffix == ".css" else "text/javascript"
        return FileResponse(file, media_type=media, headers={"Cache-Control": "no-cache"})

    @server.get(FILE_ROUTE + "{path:path}", include_in_schema=False)
    def extension_file(path: str):
        file = resolve_file(path, roots, bases)
        if file is None:
            raise HTTPException(status_code=404, detail="no such file under an extension folder")
        return FileResponse(file, headers={"Cache-Control": "no-cache"})
