"""The Extra Networks browser's cards from Easel's own model folders: LoRA, textual-inversion embeddings,
checkpoints, and hypernetworks (listed as a kind Easel does not run).

Beside each model file, A1111's side files are read: `<name>.png` / `<name>.preview.png` (preview), `<name>.txt` /
`<name>.description.txt` (description), `<name>.json` (the user metadata A1111's card editor writes: description,
activation text, preferred weight). No torch: a LoRA's safetensors metadata is read from the file's JSON header, so
the page is still built before torch loads (docs/architecture.md §4).
"""
from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

from modules.conditioning.embedding_db import find_embedding_files
from modules.models.lora_library import find_lora_files
from modules.ui.extra_networks_cards import (Card, PageView, in_hidden_folder, lora_aliases, lora_prompt,
                                            preview_candidates, quote_js, relative_folder, thumb_url)

log = logging.getLogger(__name__)

HEADER_LIMIT = 100 * 2**20  # bytes: a larger safetensors header is not a model file we list metadata for
HYPERNETWORK_NOTE = ("Easel does not run hypernetworks: a <hypernet:…> tag in a prompt is reported in the result "
                     "and left out.")


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file's header ({} when there is none or the file is not readable)."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > HEADER_LIMIT:
                return {}
            header = json.loads(f.read(length))
    except (OSError, ValueError, struct.error):
        return {}
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def user_metadata(stem: str) -> dict:
    """`<stem>.json`, A1111's user metadata of a card ({} when absent or not a JSON object)."""
    try:
        data = json.loads(Path(f"{stem}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def description(stem: str, metadata: dict) -> str:
    """The user metadata's description, else `<stem>.txt`, else `<stem>.description.txt`."""
    if metadata.get("description"):
        return str(metadata["description"])
    for candidate in (f"{stem}.txt", f"{stem}.description.txt"):
        try:
            return Path(candidate).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return ""


def preview(stem: str, samples_format: str = "png") -> str | None:
    """The thumbnail URL of the model's preview image, if there is one beside it."""
    for candidate in preview_candidates(stem, (samples_format,)):
        try:
            mtime = int(os.stat(candidate).st_mtime)
        except OSError:
            continue
        return thumb_url(candidate, mtime)
    return None


def sort_keys(path: Path, index: int) -> tuple[tuple[str, object], ...]:
    try:
        st = path.stat()
        created, modified = int(st.st_ctime), int(st.st_mtime)
    except OSError:
        created = modified = 0
    return (("default", index), ("date_created", created), ("date_modified", modified), ("name", path.name.lower()),
            ("path", str(path).lower()))


def relative_to_roots(path: Path, roots: list[Path]) -> tuple[str, str]:
    """(search term, folder): the path from the root's parent ("Lora/sub/ink.safetensors", A1111's search term),
    and its folder below the root ("sub")."""
    for root in roots:
        try:
            inner = path.relative_to(root).as_posix()
        except ValueError:
            continue
        return f"{root.name}/{inner}", relative_folder(inner)
    return path.name, ""


def _card(path: Path, index: int, roots: list[Path], samples_format: str, **fields) -> Card:
    stem = str(path.with_suffix(""))
    metadata = fields.pop("user", None)
    metadata = user_metadata(stem) if metadata is None else metadata
    term, folder = relative_to_roots(path, roots)
    terms = (term, *fields.pop("more_terms", ()))
    return Card(name=fields.pop("name", path.stem), filename=str(path), preview=preview(stem, samples_format),
                description=description(stem, metadata), search_terms=terms, sort_keys=sort_keys(path, index),
                hidden=in_hidden_folder(folder), folder=folder, **fields)


def lora_view(folder: Path, samples_format: str = "png", prefer_filename: bool = False) -> PageView:
    """A card per LoRA file; clicking adds `<lora:alias:multiplier>` and the activation text of its user metadata."""
    files = find_lora_files(folder)
    metadata = {p: safetensors_metadata(p) if p.suffix.lower() == ".safetensors" else {} for p in files}
    aliases = lora_aliases([(p.stem, metadata[p].get("ss_output_name") or p.stem) for p in files], prefer_filename)
    cards = []
    for index, path in enumerate(files):
        user = user_metadata(str(path.with_suffix("")))
        weight = _number(user.get("preferred weight"))
        prompt = lora_prompt(aliases[path.stem], weight, str(user.get("activation text") or ""))
        negative = user.get("negative text")
        cards.append(_card(path, index, [folder], samples_format, user=user, prompt=prompt,
                           negative_prompt=quote_js(f"({negative}:1)") if negative else quote_js(""),
                           has_metadata=bool(metadata[path])))
    return PageView(tuple(cards), (str(folder),))


def _number(value) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def embedding_view(folders: list[Path], samples_format: str = "png") -> PageView:
    """A card per embedding file (named after its stem, as in a prompt); the click adds the name to the prompt box
    last used, positive or negative (A1111's)."""
    files = [p for folder in folders for p in find_embedding_files(folder)]
    cards = [_card(p, i, folders, samples_format, prompt=quote_js(p.stem)) for i, p in enumerate(files)]
    return PageView(tuple(cards), tuple(str(f) for f in folders), allow_negative=True)


def checkpoint_view(checkpoints, roots: list[Path], samples_format: str = "png") -> PageView:
    """A card per checkpoint (CheckpointInfo rows); the click makes it the model (A1111's selectCheckpoint)."""
    cards = []
    for index, info in enumerate(checkpoints):
        onclick = f"return selectCheckpoint({quote_js(info.title)})"
        terms = (info.sha256,) if info.sha256 else ()
        cards.append(_card(Path(info.path), index, roots, samples_format, name=info.model_name, onclick=onclick,
                           more_terms=terms))
    return PageView(tuple(cards), tuple(str(r) for r in roots))


def hypernetwork_view(folder: Path) -> PageView:
    """No cards: Easel does not run hypernetworks, and a card that adds a tag it ignores would mislead."""
    return PageView((), (str(folder),), message=HYPERNETWORK_NOTE)

