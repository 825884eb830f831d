"""The Extra Networks browser's HTML, as plain functions of typed values: a card per LoRA, embedding or checkpoint,
the folder buttons, and the pane with A1111's search and sort controls. The element ids and classes are A1111's
(extensions and users' CSS select on them; docs/ui.md); javascript/extra-networks.js drives them.

Pure: no file is read here (modules/ui/extra_networks_sources.py lists the folders).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

PREVIEW_SUFFIXES = ("png", "jpg", "jpeg", "webp", "gif")  # A1111's preview image formats
SORT_FIELDS = {"Path": "path", "Name": "name", "Date Created": "date_created", "Date Modified": "date_modified"}
HIDDEN_MODELS = ("Always", "When searched", "Never")
THUMB_ROUTE = "./sd_extra_networks/thumb"


def quote_js(text: str) -> str:
    r"""`text` as a double-quoted JavaScript string literal, for onclick attributes (escaped again for HTML).

    >>> print(quote_js('say "hi" \\ bye'))
    "say \"hi\" \\ bye"
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Card:
    """One card. `prompt` and `negative_prompt` are JavaScript expressions (A1111's: a LoRA's multiplier is read
    from the settings when the card is clicked); `onclick` replaces the prompt action (checkpoints)."""

    name: str
    filename: str
    prompt: str | None = None
    negative_prompt: str | None = None
    onclick: str | None = None
    preview: str | None = None
    description: str = ""
    search_terms: tuple[str, ...] = ()
    sort_keys: tuple[tuple[str, object], ...] = ()
    has_metadata: bool = False
    hidden: bool = False  # inside a folder whose name starts with "." (shown per `extra_networks_hidden_models`)
    folder: str = ""  # its folder relative to the page's root, "/"-separated ("" at the root)


@dataclass(frozen=True)
class ViewSettings:
    """The settings of A1111's Extra Networks section that shape the cards (modules/options/table.py)."""

    card_width: int = 0
    card_height: int = 0
    text_scale: float = 1.0
    show_description: bool = True
    description_is_html: bool = False
    hidden_models: str = "When searched"
    order_field: str = "Path"
    order: str = "Ascending"
    dirs_shown: bool = True
    show_hidden_dirs: bool = True  # folder buttons for folders whose names start with "."

    @classmethod
    def from_options(cls, get) -> ViewSettings:
        """From `get(key)` (the App's options)."""
        return cls(int(get("extra_networks_card_width") or 0), int(get("extra_networks_card_height") or 0),
                   float(get("extra_networks_card_text_scale") or 1.0), bool(get("extra_networks_card_show_desc")),
                   bool(get("extra_networks_card_description_is_html")), str(get("extra_networks_hidden_models")),
                   str(get("extra_networks_card_order_field")), str(get("extra_networks_card_order")),
                   bool(get("extra_networks_tree_view_default_enabled")),
                   bool(get("extra_networks_show_hidden_directories")))


@dataclass(frozen=True)
class PaneIds:
    """`tab` is txt2img or img2img; `page` the page's id (lora, textual_inversion, checkpoints …)."""

    tab: str
    page: str

    @property
    def full(self) -> str:
        return f"{self.tab}_{self.page}"


def page_id(title: str) -> str:
    """A1111's `extra_networks_tabname`: the title, lower case, spaces as underscores.

    >>> page_id("Textual Inversion")
    'textual_inversion'
    """
    return title.lower().replace(" ", "_")


def lora_prompt(alias: str, preferred_weight: float = 0.0, activation_text: str = "") -> str:
    """The JavaScript expression a LoRA card adds: `<lora:alias:M>` with M the preferred weight from the card's
    user metadata, else the `extra_networks_default_multiplier` setting at click time; then its activation text.

    >>> print(lora_prompt("ink"))
    "<lora:ink:" + extraNetworksOpt("extra_networks_default_multiplier", 1) + ">"
    >>> print(lora_prompt("ink", 0.6, "inked"))
    "<lora:ink:" + 0.6 + ">" + " inked"
    """
    default = 'extraNetworksOpt("extra_networks_default_multiplier", 1)'
    weight = repr(float(preferred_weight)) if preferred_weight else default
    expression = f"{quote_js(f'<lora:{alias}:')} + {weight} + {quote_js('>')}"
    return expression + (f" + {quote_js(' ' + activation_text)}" if activation_text else "")


def lora_aliases(entries: list[tuple[str, str]], prefer_filename: bool = False) -> dict[str, str]:
    """name → what its card puts in `<lora:…>`: the alias (kohya's `ss_output_name`) unless two files share it or
    it is another file's name (then that tag would load the wrong file), or `prefer_filename` (A1111's
    `lora_preferred_name`).

    >>> lora_aliases([("a", "style"), ("b", "style"), ("c", "a"), ("d", "dee")])
    {'a': 'a', 'b': 'b', 'c': 'c', 'd': 'dee'}
    """
    names = {name for name, _ in entries}
    counts: dict[str, int] = {}
    for _, alias in entries:
        counts[alias] = counts.get(alias, 0) + 1
    chosen = {}
    for name, alias in entries:
        unsafe = prefer_filename or counts[alias] > 1 or (alias in names and alias != name)
        chosen[name] = name if unsafe else alias
    return chosen


def preview_candidates(stem: str, extra_suffixes: tuple[str, ...] = ()) -> list[str]:
    """Files that may be a model's preview, in A1111's order: `<stem>.png`, `<stem>.preview.png`, then other formats.

    >>> preview_candidates("/m/ink")[:3]
    ['/m/ink.png', '/m/ink.preview.png', '/m/ink.jpg']
    """
    suffixes = [*PREVIEW_SUFFIXES, *(s for s in extra_suffixes if s not in PREVIEW_SUFFIXES)]
    return [candidate for suffix in suffixes for candidate in (f"{stem}.{suffix}", f"{stem}.preview.{suffix}")]


def thumb_url(filename: str, mtime: int = 0) -> str:
    """The URL of a preview file (served by modules/ui/extra_networks_routes.py); mtime defeats stale caches.

    >>> thumb_url("/m/Lora/a b.png", 7)
    './sd_extra_networks/thumb?filename=/m/Lora/a%20b.png&mtime=7'
    """
    return f"{THUMB_ROUTE}?filename={quote(filename.replace(chr(92), '/'))}&mtime={mtime}"


def relative_folder(relative_file: str) -> str:
    """The folder of a file given relative to its page's root ("" at the root).

    >>> relative_folder("sub/deeper/ink.safetensors"), relative_folder("ink.pt")
    ('sub/deeper', '')
    """
    parent = str(PurePosixPath(relative_file.replace("\\", "/")).parent)
    return "" if parent == "." else parent


def in_hidden_folder(folder: str) -> bool:
    """A folder (relative, "/"-separated) inside one whose name starts with "." (A1111 lists those on search only).

    >>> in_hidden_folder(".old/x"), in_hidden_folder("a/.b"), in_hidden_folder("a.b")
    (True, True, False)
    """
    return any(part.startswith(".") for part in folder.split("/") if part)


def card_style(view: ViewSettings) -> str:
    """The card's size and text scale from the settings (0: the stylesheet's size).

    >>> card_style(ViewSettings(card_width=200, text_scale=0.5))
    'width: 200px;font-size: 50.0%;'
    """
    height = f"height: {view.card_height}px;" if view.card_height else ""
    width = f"width: {view.card_width}px;" if view.card_width else ""
    return f"{height}{width}font-size: {view.text_scale * 100}%;"


def card_onclick(tab: str, card: Card, allow_negative: bool) -> str:
    """The card's click action as JavaScript (unescaped).

    >>> card_onclick("txt2img", Card("ink", "/m/ink.pt", prompt='"ink"'), True)
    'cardClicked(\\'txt2img\\', "ink", \\'\\', true);'
    """
    if card.onclick is not None:
        return card.onclick
    negative = card.negative_prompt or "''"
    return f"cardClicked('{tab}', {card.prompt or quote_js('')}, {negative}, {str(allow_negative).lower()});"


def _buttons(ids: PaneIds, card: Card) -> str:
    copy = (f'<div class="copy-path-button card-button" title="Copy path to clipboard" '
            f'onclick="extraNetworksCopyCardPath(event)" data-clipboard-text="{html.escape(card.filename)}"></div>')
    metadata = (f'<div class="metadata-button card-button" title="Show internal metadata" '
                f"onclick=\"extraNetworksRequestMetadata(event, '{ids.page}')\"></div>") if card.has_metadata else ""
    return f'<div class="button-row">{copy}{metadata}</div>'


def card_html(ids: PaneIds, card: Card, view: ViewSettings, allow_negative: bool = False) -> str:
    """One card (A1111's markup: `div.card[data-name]` with `.name`, `.description`, hidden `.search_terms`, the
    `data-sort-*` keys); "" when it lies in a hidden folder and `extra_networks_hidden_models` is Never."""
    search_only = card.hidden and view.hidden_models != "Always"
    if search_only and view.hidden_models == "Never":
        return ""
    extra = " search_only" if search_only else ""
    terms = "".join(f"<span class='hidden search_terms{extra}'>{html.escape(t)}</span>" for t in card.search_terms)
    description = card.description if view.show_description else ""
    description = description if view.description_is_html else html.escape(description)
    sort_keys = " ".join(f'data-sort-{k}="{html.escape(str(v))}"' for k, v in card.sort_keys)
    image = f'<img src="{html.escape(card.preview)}" class="preview" loading="lazy">' if card.preview else ""
    onclick = html.escape(card_onclick(ids.tab, card, allow_negative))
    return (f'<div class="card{extra}" style="{card_style(view)}" onclick="{onclick}" '
            f'data-name="{html.escape(card.name)}" {sort_keys}>{image}{_buttons(ids, card)}'
            f'<div class="actions"><div class="additional">{terms}</div>'
            f'<span class="name">{html.escape(card.name)}</span>'
            f'<span class="description">{description}</span></div></div>')


def no_cards_html(folders: list[str], message: str = "") -> str:
    """What an empty page shows: the folders to put files in, or `message`.

    >>> no_cards_html(["/m/Lora"]).endswith("<ul><li>/m/Lora</li></ul></div>")
    True
    """
    if message:
        return f"<div class='nocards'><h1>{html.escape(message)}</h1></div>"
    items = "".join(f"<li>{html.escape(f)}</li>" for f in folders)
    return (f"<div class='nocards'><h1>Nothing here. Add some content to the following directories:</h1>"
            f"<ul>{items}</ul></div>")


def folder_buttons(folders: list[str], show_hidden: bool = True) -> list[str]:
    """The folder buttons' labels: "" (all), then every folder and its parents, each ending with "/".

    >>> folder_buttons(["a/b", "", "c", ".old"], show_hidden=False)
    ['', 'a/', 'a/b/', 'c/']
    """
    found = set()
    for folder in folders:
        parts = [p for p in folder.split("/") if p]
        for i in range(1, len(parts) + 1):
            found.add("/".join(parts[:i]) + "/")
    shown = sorted(f for f in found if show_hidden or not in_hidden_folder(f))
    return ["", *shown] if shown else []


def dirs_html(ids: PaneIds, labels: list[str]) -> str:
    buttons = []
    for label in labels:
        cls = " search-all" if label == "" else ""
        buttons.append(f"<button class='lg secondary gradio-button custom-button{cls}' "
                       f"onclick='extraNetworksSearchButton(\"{ids.tab}\", \"{ids.page}\", event)'>"
                       f"{html.escape(label or 'all')}</button>")
    return "".join(buttons)


def _sort_button(ids: PaneIds, key: str, title: str, active: bool) -> str:
    enabled = " extra-network-control--enabled" if active else ""
    return (f'<div id="{ids.full}_extra_sort_{key}" class="extra-network-control--sort{enabled}" '
            f'data-sortkey="{"default" if key == "path" else key}" title="Sort by {title}" '
            f"onclick=\"extraNetworksControlSortOnClick(event, '{ids.tab}', '{ids.page}');\">"
            f'<i class="extra-network-control--icon extra-network-control--sort-icon"></i></div>')


def controls_html(ids: PaneIds, view: ViewSettings) -> str:
    """Search box, sort keys, sort direction, folder toggle and refresh, with A1111's ids."""
    active = SORT_FIELDS.get(view.order_field, "path")
    sorts = "".join(_sort_button(ids, key, key.replace("_", " "), key == active)
                    for key in ("path", "name", "date_created", "date_modified"))
    tree = " extra-network-control--enabled" if view.dirs_shown else ""
    click = f"(event, '{ids.tab}', '{ids.page}');"
    return (f'<div class="extra-network-control" id="{ids.full}_controls">'
            f'<div class="extra-network-control--search"><input id="{ids.full}_extra_search" '
            f'class="extra-network-control--search-text" type="search" placeholder="Search"></div>'
            f"<small>Sort: </small>{sorts}<small> </small>"
            f'<div id="{ids.full}_extra_sort_dir" class="extra-network-control--sort-dir" '
            f'data-sortdir="{html.escape(view.order)}" title="Sort {view.order.lower()}" '
            f'onclick="extraNetworksControlSortDirOnClick{click}">'
            f'<i class="extra-network-control--icon extra-network-control--sort-dir-icon"></i></div><small> </small>'
            f'<div id="{ids.full}_extra_tree_view" class="extra-network-control--tree-view{tree}" '
            f'title="Show folders" onclick="extraNetworksControlTreeViewOnClick{click}">'
            f'<i class="extra-network-control--icon extra-network-control--tree-view-icon"></i></div>'
            f'<div id="{ids.full}_extra_refresh" class="extra-network-control--refresh" title="Refresh page" '
            f'onclick="extraNetworksControlRefreshOnClick{click}">'
            f'<i class="extra-network-control--icon extra-network-control--refresh-icon"></i></div></div>')


def pane_html(ids: PaneIds, view: ViewSettings, cards: str, dirs: str) -> str:
    """The whole page of one network kind: controls, folder buttons and cards (A1111's "Dirs" layout)."""
    hidden = "" if view.dirs_shown else " extra-network-dirs-hidden"
    return (f"<div id='{ids.full}_pane' class='extra-network-pane{hidden}'>{controls_html(ids, view)}"
            f"<div class='extra-network-pane-content-dirs'>"
            f"<div id='{ids.full}_dirs' class='extra-network-dirs'>{dirs}</div>"
            f"<div id='{ids.full}_cards' class='extra-network-cards'>{cards}</div></div></div>")


@dataclass(frozen=True)
class PageView:
    """Everything one page shows: its cards, the folders they are listed under, and what to say when empty."""

    cards: tuple[Card, ...]
    folders: tuple[str, ...] = ()  # the page's root folders, named when there are no cards
    allow_negative: bool = False
    message: str = ""  # shown instead of cards (e.g. a kind Easel does not run)


def page_html(ids: PaneIds, page: PageView, view: ViewSettings) -> str:
    """The pane of one page with all its cards."""
    cards = "".join(card_html(ids, c, view, page.allow_negative) for c in page.cards)
    if page.message or not cards:
        cards = no_cards_html(list(page.folders), page.message)
    labels = folder_buttons([c.folder for c in page.cards], view.show_hidden_dirs)
    return pane_html(ids, view, cards, dirs_html(ids, labels))
