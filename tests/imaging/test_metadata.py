"""Reading and writing the infotext in PNG text chunks and JPEG/WebP EXIF UserComment."""
import io
import struct

import pytest
from PIL import Image, PngImagePlugin

from modules.errors import EaselError, InvalidInput
from modules.imaging.metadata import image_with_infotext_bytes, open_image, read_image_metadata

INFOTEXT = ('a castle, "quoted", (masterpiece:1.2)\nNegative prompt: blurry, 日本語 🎨\n'
            'Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1, Size: 16x8, Lora hashes: "a: 1, b: 2"')


def small_image(mode="RGB"):
    return Image.new(mode, (16, 8), (10, 200, 30, 128)[: len(mode)] if mode in ("RGB", "RGBA") else 100)


def tiff_entries(exif: bytes, ifd_offset: int) -> dict[int, tuple[int, int, int]]:
    """{tag: (type, count, value-or-offset)} of one IFD of a big-endian TIFF block (test-side, independent)."""
    (count,) = struct.unpack_from(">H", exif, ifd_offset)
    entries = {}
    for i in range(count):
        tag, typ, n, value = struct.unpack_from(">HHII", exif, ifd_offset + 2 + 12 * i)
        entries[tag] = (typ, n, value)
    return entries


def jpeg_app1(data: bytes) -> bytes:
    """The EXIF payload (after `Exif\\0\\0`) of the first APP1 segment of a JPEG."""
    pos = 2
    while pos < len(data):
        marker, length = struct.unpack_from(">HH", data, pos)
        if marker == 0xFFE1 and data[pos + 4: pos + 10] == b"Exif\0\0":
            return data[pos + 10: pos + 2 + length]
        pos += 2 + length
    raise AssertionError("no EXIF APP1 segment")


@pytest.mark.parametrize("fmt", ["png", "jpg", "jpeg", "webp", ".PNG"])
def test_round_trip_each_format(fmt):
    data = image_with_infotext_bytes(small_image(), INFOTEXT, fmt)
    infotext, items = read_image_metadata(data)
    assert infotext == INFOTEXT
    assert "exif" not in items and "parameters" not in items


def test_png_uses_parameters_chunk_itxt_for_unicode_and_text_for_latin1():
    data = image_with_infotext_bytes(small_image(), INFOTEXT, "png")
    assert b"iTXtparameters" in data
    latin = image_with_infotext_bytes(small_image(), "plain, ascii", "png")
    assert b"tEXtparameters\0plain, ascii" in latin
    assert Image.open(io.BytesIO(latin)).text["parameters"] == "plain, ascii"


def test_png_extra_chunks_come_back_as_items():
    data = image_with_infotext_bytes(small_image(), "p", "png", extra_text={"extras": "Postprocess upscale by: 2"})
    infotext, items = read_image_metadata(data)
    assert infotext == "p"
    assert items == {"extras": "Postprocess upscale by: 2"}


def test_extras_text_key():
    data = image_with_infotext_bytes(small_image(), "Postprocess upscaler: R-ESRGAN", "png", text_key="extras")
    infotext, items = read_image_metadata(data)
    assert infotext is None
    assert items["extras"] == "Postprocess upscaler: R-ESRGAN"


def test_jpeg_exif_is_what_piexif_reads():
    data = image_with_infotext_bytes(small_image(), INFOTEXT, "jpg")
    exif = jpeg_app1(data)
    assert exif[:4] == b"MM\x00\x2a"
    ifd0 = tiff_entries(exif, struct.unpack_from(">I", exif, 4)[0])
    exif_ifd = tiff_entries(exif, ifd0[0x8769][2])
    typ, count, offset = exif_ifd[0x9286]
    assert typ == 7  # UNDEFINED: piexif returns bytes only for this type
    comment = exif[offset: offset + count]
    assert comment == b"UNICODE\0" + INFOTEXT.encode("utf_16_be")


def test_reads_pillow_written_little_endian_exif():
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"UNICODE\0" + "Steps: 5, Seed: 1, Size: 8x8".encode("utf_16_be")}
    out = io.BytesIO()
    small_image().save(out, "JPEG", exif=exif.tobytes())
    assert read_image_metadata(out.getvalue())[0] == "Steps: 5, Seed: 1, Size: 8x8"


def test_ascii_user_comment():
    raw = b"Exif\0\0II*\0" + struct.pack("<I", 8)
    raw += struct.pack("<HHHIII", 1, 0x8769, 4, 1, 26, 0)
    comment = b"ASCII\0\0\0hello, world"
    raw += struct.pack("<HHHIII", 1, 0x9286, 7, len(comment), 44, 0) + comment
    out = io.BytesIO()
    small_image().save(out, "WEBP", exif=raw)
    assert read_image_metadata(out.getvalue())[0] == "hello, world"


def test_exif_comment_wins_over_parameters_chunk():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "from chunk")
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"UNICODE\0" + "from exif".encode("utf_16_be")}
    out = io.BytesIO()
    small_image().save(out, "PNG", pnginfo=info, exif=exif)
    assert read_image_metadata(out.getvalue())[0] == "from exif"


def test_no_metadata_and_pil_image_input():
    infotext, items = read_image_metadata(small_image())
    assert infotext is None and items == {}
    out = io.BytesIO()
    small_image().save(out, "JPEG")
    infotext, items = read_image_metadata(Image.open(io.BytesIO(out.getvalue())))
    assert infotext is None
    assert not set(items) & {"jfif", "dpi", "jfif_density"}


def test_infotext_none_writes_no_metadata():
    for fmt in ("png", "jpg", "webp"):
        assert read_image_metadata(image_with_infotext_bytes(small_image(), None, fmt))[0] is None


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "L", "I;16", "CMYK"])
def test_lossy_formats_accept_any_mode(mode):
    image = small_image("RGB").convert(mode) if mode != "I;16" else Image.new("I;16", (16, 8), 65535)
    for fmt in ("jpg", "webp"):
        data = image_with_infotext_bytes(image, "x", fmt)
        decoded = Image.open(io.BytesIO(data))
        assert decoded.mode in ("RGB", "L")
        assert read_image_metadata(data)[0] == "x"
    white = Image.open(io.BytesIO(image_with_infotext_bytes(Image.new("I;16", (4, 4), 65535), None, "jpg")))
    assert white.getpixel((0, 0)) >= 250


def test_png_keeps_alpha():
    data = image_with_infotext_bytes(small_image("RGBA"), "x", "png")
    assert Image.open(io.BytesIO(data)).mode == "RGBA"


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 30])
def test_garbage_bytes_give_easel_error(data):
    with pytest.raises(EaselError, match="not an image"):
        read_image_metadata(data)


def test_truncated_png_gives_easel_error():
    data = image_with_infotext_bytes(Image.effect_noise((64, 64), 50).convert("RGB"), "x", "png")
    with pytest.raises(EaselError, match="not an image"):
        open_image(data[: len(data) // 2])


def test_unknown_format_refused():
    with pytest.raises(InvalidInput, match="image format.*png, jpg, jpeg, webp"):
        image_with_infotext_bytes(small_image(), "x", "bmp")


def test_huge_infotext_in_jpeg_is_a_clear_error_but_fits_webp_and_png():
    text = "word, " * 7000
    with pytest.raises(InvalidInput, match="do not fit in a JPEG"):
        image_with_infotext_bytes(small_image(), text, "jpg")
    for fmt in ("webp", "png"):
        assert read_image_metadata(image_with_infotext_bytes(small_image(), text, fmt))[0] == text
