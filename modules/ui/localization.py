"""A1111 localizations: `localizations/<name>.json` of the install folder and of the enabled extensions, each a flat
JSON object of English UI text → translation (`"rtl": true` marks a right-to-left language). The setting
`localization` names one; every page load gets its data from /easel-assets/localization.js, the first script of the
page's <head> (A1111's `window.localization = {...}`), so a change shows at the next reload without a restart, and
javascript/localization.js translates the page with it. A file that does not parse is logged, shown in its
extension's problem column, and left out of the choices: the page works untranslated."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from modules.ui.assets import ASSET_ROUTE, extension_roots, localization_files

log = logging.getLogger(__name__)

NONE = "None"  # the setting's value for no localization (A1111's)
SCRIPT_ROUTE = ASSET_ROUTE + "/localization.js"


def parse(text: str) -> dict:
    """The translations of a localization file's text; ValueError says why it is not one.

    Entries whose translation is not text are dropped (only `rtl` may be true/false).

    >>> parse('{"Generate": "Générer", "rtl": false, "n": 3}')
    {'Generate': 'Générer', 'rtl': False}
    >>> parse('["Generate"]')
    Traceback (most recent call last):
    ValueError: not a JSON object of English text → translation
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object of English text → translation")
    return {k: v for k, v in data.items() if isinstance(v, str) or (k == "rtl" and isinstance(v, bool))}


def script(data: dict) -> str:
    """JavaScript that gives the page its translations (`</` escaped: the text may end up inline in HTML).

    >>> script({"Generate": "</script>"})
    'window.localization = {"Generate": "<\\\\/script>"};\\n'
    """
    return "window.localization = " + json.dumps(data, ensure_ascii=False).replace("</", "<\\/") + ";\n"


class Localizations:
    """Owner of the localization files: which exist (`choices`, listed again on refresh), their data (parsed again
    when a file changes), and the files that do not parse (each reported once per version of the file)."""

    def __init__(self, roots: Callable[[], list[Path]], report: Callable[[Path, str], None] | None = None):
        self._roots = roots  # folders whose localizations/ count, later ones winning a name
        self._report = report or log_problem
        self._files: dict[str, Path] | None = None
        self._parsed: dict[Path, tuple[float, dict | None]] = {}
        self._missing: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_app(cls, app) -> Localizations:
        """The install folder's and the enabled extensions' localizations; problems go to the extension's row."""
        def roots() -> list[Path]:
            flags = getattr(app, "flags", None)
            disabled = bool(getattr(flags, "disable_all_extensions", False))
            return [app.paths.install_dir, *extension_roots(app.paths, disabled, getattr(app, "extensions", None))]

        return cls(roots, report=lambda file, text: report_to_extension(app, file, text))

    def files(self, refresh: bool = False) -> dict[str, Path]:
        with self._lock:
            if self._files is None or refresh:
                self._files = localization_files(self._roots())
            return dict(self._files)

    def choices(self, refresh: bool = False) -> list[str]:
        """"None" and the name of every localization that parses, as the Settings dropdown lists them."""
        return [NONE, *(name for name, file in sorted(self.files(refresh).items()) if self._load(file) is not None)]

    def data(self, name: str) -> dict:
        """The translations of localization `name`; {} for "None", a missing name or a file that does not parse."""
        if not name or name == NONE:
            return {}
        file = self.files().get(name)
        if file is None:
            file = self.files(refresh=True).get(name)  # added since the list was made
        if file is None:
            if name not in self._missing:
                self._missing.add(name)
                log.warning("localization %r (Settings → User interface → Localization) was not found in any "
                            "localizations/ folder; the page stays untranslated", name)
            return {}
        return self._load(file) or {}

    def _load(self, file: Path) -> dict | None:
        try:
            stamp = file.stat().st_mtime
        except OSError:
            return None
        with self._lock:
            known = self._parsed.get(file)
            if known is not None and known[0] == stamp:
                return known[1]
        try:
            data = parse(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            data = None
            self._report(file, f"localizations/{file.name} is not valid ({e}); it is left out of Settings → "
                               "Localization and the page stays untranslated with it")
        with self._lock:
            self._parsed[file] = (stamp, data)
        return data


def log_problem(file: Path, text: str) -> None:
    log.error("%s: %s", file, text)


def report_to_extension(app, file: Path, text: str) -> None:
    """Show a localization's problem in the Extensions tab's row of the extension holding it (the manager logs it);
    a file of the install folder is only logged."""
    manager = getattr(app, "extensions", None)
    if manager is not None:
        for ext in manager.all():
            if Path(ext.path).resolve() in file.resolve().parents:
                manager.report_problem(ext.name, text)
                return
    log_problem(file, text)


def head_tag() -> str:
    """The <script> that must come before every other script of the page (they may read `localization`)."""
    return f'<script src="{SCRIPT_ROUTE}"></script>'


def mount(server, localizations: Localizations, options) -> None:
    """GET /easel-assets/localization.js: the chosen localization's data, read at every page load."""
    from fastapi.responses import Response

    @server.get(SCRIPT_ROUTE, include_in_schema=False)
    def localization_script():
        data = localizations.data(str(options.get("localization")))
        return Response(script(data), media_type="text/javascript", headers={"Cache-Control": "no-cache"})
