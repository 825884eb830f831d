"""A1111's `modules.extras`: `run_pnginfo(image)`, the PNG Info tab's reader, which image browsers call to show a
picture's infotext and other text chunks. The checkpoint merger and the Extras tab's builders of that module are
A1111's page; Easel's Extras and PNG Info tabs are modules/ui."""
from __future__ import annotations

from modules.extensions.compat.absent import _UI


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


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no modules.extras.{name}: {_UI} (docs/a1111-compat.md)")
