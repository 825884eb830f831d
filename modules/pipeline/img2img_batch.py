"""img2img "Batch" tab (A1111 `img2img.process_batch`): every image of a folder through img2img, with an optional
mask folder (same file stem, or one mask for all) and PNG-info reuse (selected fields of each image's infotext).

Outputs go to the output folder named after the input (`stem.png`, `stem-2.png` for a batch), never overwriting.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.imaging.metadata import image_with_infotext_bytes, open_image, read_image_metadata
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.result import GenerationResult

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
PNG_INFO_PROPS = ("Prompt", "Negative prompt", "Seed", "CFG scale", "Sampler", "Steps")


@dataclass(frozen=True)
class BatchFolders:
    """The Batch tab's inputs. `png_info_props`: which infotext fields of each image override the request."""

    input_dir: str
    output_dir: str = ""
    mask_dir: str = ""
    use_png_info: bool = False
    png_info_props: tuple[str, ...] = PNG_INFO_PROPS
    png_info_dir: str = ""


def list_images(folder: str, field: str) -> list[Path]:
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InvalidInput(field, f"{folder!r} is not a folder", "an existing folder of images")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_mask(masks: list[Path], stem: str) -> Path | None:
    """One mask for all, or the mask with the image's stem (any extension)."""
    if len(masks) == 1:
        return masks[0]
    return next((m for m in masks if m.stem == stem), None)


# infotext key → request field, and how its text becomes the field's value
PNG_INFO_FIELDS: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("Seed", "seed", int), ("CFG scale", "cfg_scale", float), ("Steps", "steps", int), ("Sampler", "sampler_name", str))


def with_png_info(req: Img2ImgRequest, infotext: str | None, props: tuple[str, ...]) -> Img2ImgRequest:
    """A1111's rule: prompts from the image are appended, the other selected fields replace the request's."""
    if not infotext:
        return req
    parsed = {k: v for k, v in parse_infotext(infotext).items() if k in props}
    changes: dict[str, object] = {}
    if "Prompt" in parsed:
        changes["prompt"] = f"{req.prompt} {parsed['Prompt']}".strip()
    if "Negative prompt" in parsed:
        changes["negative_prompt"] = f"{req.negative_prompt} {parsed['Negative prompt']}".strip()
    for key, name, kind in PNG_INFO_FIELDS:
        if key in parsed:
            try:
                changes[name] = kind(str(parsed[key]))  # read from the text, so a string (no default fills these)
            except ValueError:
                raise InvalidInput(key, f"{parsed[key]!r} in the image's infotext is not usable") from None
    return req.replace(**changes)


def _read(path: Path, field: str) -> Image.Image:
    try:
        return open_image(path.read_bytes())
    except Exception as exc:
        raise InvalidInput(field, f"{path.name}: {exc}", "image files") from None


def save_named(image: Image.Image, folder: Path, stem: str, infotext: str | None, fmt: str,
               extra_text: dict | None = None) -> Path:
    """`folder/stem.fmt`, or `stem-N.fmt` when taken (created exclusively, so nothing is overwritten)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = image_with_infotext_bytes(image, infotext, fmt, extra_text=extra_text)
    for n in range(1, 10_000):
        target = folder / (f"{stem}.{fmt}" if n == 1 else f"{stem}-{n}.{fmt}")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return target
    raise InvalidInput("output_dir", f"no free file name for {stem} in {folder}")


def run_batch(run: Callable[[Img2ImgRequest], GenerationResult], req: Img2ImgRequest, folders: BatchFolders,
              fmt: str = "png") -> list[GenerationResult]:
    """Each input image as one img2img request (`run`, e.g. `app.img2img`); stops after an interrupted one."""
    images = list_images(folders.input_dir, "input_dir")
    if not images:
        raise InvalidInput("input_dir", f"no images in {folders.input_dir}", ", ".join(IMAGE_SUFFIXES))
    masks = list_images(folders.mask_dir, "mask_dir") if folders.mask_dir else []
    results = []
    for path in images:
        image = _read(path, "input_dir")
        one = req.replace(init_images=(image,), mask=req.mask, do_not_save_grid=True)  # A1111: no grid per file
        mask_path = find_mask(masks, path.stem)
        if masks and mask_path is None:
            continue  # A1111 skips images without a mask in an inpainting batch
        if mask_path is not None:
            one = one.replace(mask=_read(mask_path, "mask_dir"))
        if folders.use_png_info:
            info_source = Path(folders.png_info_dir) / path.name if folders.png_info_dir else path
            infotext = read_image_metadata(_read(info_source, "png_info_dir"))[0] if info_source.is_file() else None
            one = with_png_info(one, infotext, folders.png_info_props)
        result = run(one)
        results.append(result)
        if folders.output_dir:
            for image_out, text in zip(result.images, result.infotexts):
                result.saved_paths.append(save_named(image_out, Path(folders.output_dir), path.stem, text, fmt))
        if result.interrupted:
            break
    return results
