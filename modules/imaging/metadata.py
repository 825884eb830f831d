"""Image metadata: the infotext inside PNG text chunks and JPEG/WebP EXIF, read and written as A1111 1.10 does.

A1111 writes PNGs with `PngInfo.add_text("parameters", text)` (tEXt, or iTXt when the text is not Latin-1) and
JPEG/WebP with an EXIF UserComment made by `piexif.helper.UserComment.dump(text, encoding="unicode")`: the 8-byte
charset prefix `UNICODE\\0` then UTF-16 big-endian. piexif is not a dependency here, so the one-tag EXIF block is
built by hand (Pillow's own writer would type the tag BYTE, which piexif - and so A1111 - cannot read back).
"""
from __future__ import annotations

import io
import struct
from collections.abc import Mapping

from PIL import Image, PngImagePlugin

from modules.errors import EaselError, InvalidInput

EXIF_IFD_POINTER = 0x8769
EXIF_USER_COMMENT = 0x9286
TIFF_LONG = 4
TIFF_UNDEFINED = 7

# UserComment charset prefixes (EXIF 2.3 §4.6.5) and the codec piexif uses for each.
USER_COMMENT_CHARSETS: tuple[tuple[bytes, str], ...] = (
    (b"UNICODE\0", "utf_16_be"),
    (b"ASCII\0\0\0", "ascii"),
    (b"JIS\0\0\0\0\0", "shift_jis"),
)

# Keys of `Image.info` that are format details, not metadata a user wrote (A1111's IGNORED_INFO_KEYS).
IGNORED_INFO_KEYS = frozenset({
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "exif", "loop", "background", "timestamp",
    "duration", "progressive", "progression", "icc_profile", "chromaticity", "photoshop",
})

# File format names users and settings give → Pillow's format name.
IMAGE_FORMATS: dict[str, str] = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}

# Modes each lossy format takes as they are; anything else is converted to RGB (A1111 drops alpha there).
LOSSY_MODES: dict[str, tuple[str, ...]] = {"JPEG": ("RGB", "L"), "WEBP": ("RGB", "L")}

# I;16 → 8 bit, A1111's factor (255 / 65535).
I16_TO_8BIT = 0.0038910505836576


def open_image(data: bytes) -> Image.Image:
    """Decode image bytes fully (so text chunks after the pixel data are read too); bad data → EaselError."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, struct.error, DecompressionBomb...)
        raise EaselError(f"not an image: {exc}") from exc
    return image


def decode_user_comment(raw: bytes) -> str:
    """Text of an EXIF UserComment: charset prefix, then the text (piexif's `UserComment.load`).

    A UTF-16 body with a byte-order mark is decoded by that mark; an unknown or undefined prefix falls back to UTF-8
    of what follows it, as A1111 does when piexif gives up.

    >>> decode_user_comment(b"UNICODE\\0" + "a, b".encode("utf_16_be"))
    'a, b'
    >>> decode_user_comment(b"ASCII\\0\\0\\0steps"), decode_user_comment(b"\\0" * 8 + b"x")
    ('steps', 'x')
    """
    prefix, body = raw[:8], raw[8:]
    for known, codec in USER_COMMENT_CHARSETS:
        if prefix == known:
            if codec == "utf_16_be" and body[:2] in (b"\xff\xfe", b"\xfe\xff"):
                codec = "utf_16"
            return body.decode(codec, errors="replace")
    text = (body if prefix == b"\0" * 8 else raw).decode("utf8", errors="ignore")
    return text.strip("\0")


def encode_user_comment(text: str) -> bytes:
    """A UserComment as A1111 writes it: `UNICODE\\0` then UTF-16 big-endian.

    >>> encode_user_comment("hi")
    b'UNICODE\\x00\\x00h\\x00i'
    """
    return b"UNICODE\0" + text.encode("utf_16_be")


def exif_with_user_comment(comment: bytes) -> bytes:
    """A minimal EXIF block (as piexif dumps it): IFD0 holding only the Exif-IFD pointer, which holds only
    UserComment typed UNDEFINED. Big-endian TIFF, prefixed with `Exif\\0\\0` as Pillow's savers expect."""
    header = b"MM\x00\x2a" + struct.pack(">I", 8)
    exif_ifd_offset = len(header) + 18  # IFD0: entry count (2) + one entry (12) + next-IFD offset (4)
    data_offset = exif_ifd_offset + 18
    ifd0 = struct.pack(">HHHIII", 1, EXIF_IFD_POINTER, TIFF_LONG, 1, exif_ifd_offset, 0)
    exif_ifd = struct.pack(">HHHIII", 1, EXIF_USER_COMMENT, TIFF_UNDEFINED, len(comment), data_offset, 0)
    return b"Exif\0\0" + header + ifd0 + exif_ifd + comment


def exif_user_comment(image: Image.Image) -> str | None:
    """The EXIF UserComment of an image as text; None when absent or when the EXIF cannot be read."""
    try:
        value = image.getexif().get_ifd(EXIF_IFD_POINTER).get(EXIF_USER_COMMENT)
    except Exception:  # a broken EXIF block is ignored like a missing one (A1111: piexif OSError → no EXIF)
        return None
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        value = bytes(value)
    return decode_user_comment(value)


def json_safe(value: object) -> object:
    """An `Image.info` value as something JSON can carry (bytes as text, tuples as lists)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf8", errors="replace")
    if isinstance(value, (tuple, list)):
        return [json_safe(v) for v in value]
    return str(value)


def read_image_metadata(image: Image.Image | bytes) -> tuple[str | None, dict[str, object]]:
    """(infotext, other metadata) of an image, as A1111's `read_info_from_image` (NovelAI conversion aside).

    PNG: the `parameters` text chunk; JPEG/WebP (and PNG with an eXIf chunk): a non-empty EXIF UserComment wins;
    GIF: the comment. `items` holds the remaining text chunks and info, JSON-safe.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = open_image(bytes(image))
    else:
        try:
            image.load()
        except Exception as exc:
            raise EaselError(f"not an image: {exc}") from exc
    items = dict(image.info or {})
    infotext = items.pop("parameters", None)
    if "exif" in items:
        items.pop("exif")
        infotext = exif_user_comment(image) or infotext
    elif "comment" in items:
        comment = items["comment"]
        infotext = comment.decode("utf8", errors="ignore") if isinstance(comment, bytes) else comment
    for key in IGNORED_INFO_KEYS:
        items.pop(key, None)
    return infotext, {str(k): json_safe(v) for k, v in items.items()}


def pil_format(fmt: str) -> str:
    """Pillow's format name for a user's format (`png`, `.JPG`, `webp`...)."""
    name = IMAGE_FORMATS.get(fmt.lower().lstrip("."))
    if name is None:
        raise InvalidInput("image format", f"{fmt!r} is not supported", ", ".join(IMAGE_FORMATS))
    return name


def for_lossy_format(image: Image.Image, pil_fmt: str) -> Image.Image:
    """The image in a mode the lossy format stores; alpha is dropped and 16-bit scaled down, as A1111 does."""
    if image.mode in LOSSY_MODES[pil_fmt]:
        return image
    if image.mode.startswith("I;16"):
        return image.point(lambda p: p * I16_TO_8BIT).convert("L" if pil_fmt == "JPEG" else "RGB")
    return image.convert("RGB")


def png_info(infotext: str | None, text_key: str, extra_text: Mapping[str, object] | None) -> PngImagePlugin.PngInfo:
    """PNG text chunks: `extra_text` entries, then the infotext under `text_key` (tEXt, or iTXt if not Latin-1)."""
    info = PngImagePlugin.PngInfo()
    for key, value in (extra_text or {}).items():
        if key != text_key:
            info.add_text(key, str(value))
    if infotext is not None:
        info.add_text(text_key, infotext)
    return info


def image_with_infotext_bytes(
    image: Image.Image,
    infotext: str | None,
    fmt: str = "png",
    *,
    quality: int = 80,
    lossless: bool = False,
    text_key: str = "parameters",
    extra_text: Mapping[str, object] | None = None,
) -> bytes:
    """The encoded image file carrying `infotext`: PNG text chunk `text_key`, or JPEG/WebP EXIF UserComment.

    `quality` (JPEG/WebP) and `lossless` (WebP) default to A1111's `jpeg_quality` 80 and `webp_lossless` off.
    `extra_text` adds PNG text chunks (A1111 keeps e.g. an `extras` chunk of the source image); `text_key` is
    `extras` for the Extras tab. An infotext of None writes no metadata.
    """
    pil_fmt = pil_format(fmt)
    out = io.BytesIO()
    if pil_fmt == "PNG":
        image.save(out, format="PNG", pnginfo=png_info(infotext, text_key, extra_text))
        return out.getvalue()
    exif = exif_with_user_comment(encode_user_comment(infotext)) if infotext is not None else b""
    try:
        for_lossy_format(image, pil_fmt).save(out, format=pil_fmt, quality=quality, lossless=lossless, exif=exif)
    except ValueError as exc:
        if "EXIF" not in str(exc):
            raise
        raise InvalidInput(
            "infotext", f"{len(exif)} bytes of EXIF do not fit in a JPEG (at most 65533)", "PNG or WebP output"
        ) from exc
    return out.getvalue()
