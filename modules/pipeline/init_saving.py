"""A1111's `save_init_img`: every img2img init image kept in `outdir_init_images` as `<md5>.png`, and the hash
written into the infotext (`Init image hash`)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from modules.imaging.metadata import image_with_infotext_bytes


def init_image_hash(image: Image.Image) -> str:
    """The md5 of the decoded pixels as given (before flattening or resizing), as A1111 computes it.

    >>> init_image_hash(Image.new("RGB", (1, 1)))
    '693e9af84d3dfcc71e640e005bdc5e2e'
    """
    return hashlib.md5(image.tobytes()).hexdigest()  # noqa: S324 - a name, not a security check


def save_init_images(saver, images: list[Image.Image], folder: Path, replace: bool, keep_text: bool) -> str | None:
    """Each image as PNG `folder/<md5>.png`, its own text chunks kept when `keep_text` (enable_pnginfo); an existing
    file is replaced unless `replace` is False (save_images_replace_action). → the last hash (A1111 keeps that)."""
    digest = None
    for image in images:
        digest = init_image_hash(image)
        chunks = {str(k): v for k, v in image.info.items() if isinstance(v, str)} if keep_text else {}
        text = chunks.pop("parameters", None)
        data = image_with_infotext_bytes(image, text, "png", extra_text=chunks)
        saver.save_named(data, Path(folder) / f"{digest}.png", replace)
    return digest


def init_image_entry(services, req, opts) -> dict[str, str]:
    """Save the request's init images when `save_init_img` asks (whether or not the run saves its outputs, as
    A1111) → the `Init image hash` infotext entry; {} when off."""
    if not opts.save_init_img:
        return {}
    from modules.pipeline.img2img_request import as_image

    images = [as_image(value, f"init_images[{i}]") for i, value in enumerate(req.init_images)]
    digest = save_init_images(services.saver, images, services.paths.data_dir / opts.outdir_init_images,
                              opts.save_images_replace_action == "Replace", bool(opts.enable_pnginfo))
    return {"Init image hash": digest} if digest else {}
