"""A1111's `modules.extras`: `run_pnginfo(image)`, the PNG Info tab's reader, which image browsers call to show a
picture's infotext and other text chunks, and `create_config`, with which checkpoint mergers give their result the
yaml config of a model they merged. The Extras tab's builders of that module are A1111's page; Easel's Extras and
PNG Info tabs are modules/ui."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from modules.extensions.compat.absent import _UI

log = logging.getLogger("easel.extensions")


def run_pnginfo(image) -> tuple[str, str | None, str]:
    """('', the infotext, HTML listing every text chunk of `image`), as the PNG Info tab shows them."""
    from modules.extensions.compat.images import read_info_from_image
    from modules.extensions.compat.ui_common import plaintext_to_html

    if image is None:
        return "", "", ""
    geninfo, items = read_info_from_image(image)
    items = {"parameters": geninfo, **items}
    info = "".join(f"<div>\n<p><b>{plaintext_to_html(str(key))}</b></p>\n<p>{plaintext_to_html(str(text))}</p>\n"
                   "</div>\n" for key, text in items.items())
    return "", geninfo, info or "<div><p>Nothing found in the image.<p></div>"


def create_config(ckpt_result, config_source: int, a, b, c) -> None:
    """Copy the same-name .yaml of a merged checkpoint (`a`, `b`, `c`: CheckpointInfo or None) beside the merge
    `ckpt_result`: with `config_source` 0 the first of a, b, c that has one, 1 b's, 2 c's, anything else none.
    A model without its own yaml gets its family's config when loaded, so nothing is copied for it."""
    candidates = {0: (a, b, c), 1: (b,), 2: (c,)}.get(config_source, ())
    for info in candidates:
        if info is None:
            continue
        config = Path(info.filename).with_suffix(".yaml")
        if config.is_file():
            target = Path(ckpt_result).with_suffix(".yaml")
            log.info("copying config %s to %s", config, target)
            shutil.copyfile(config, target)
            return


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.extras.{name}: {_UI} (docs/a1111-compat.md)")
