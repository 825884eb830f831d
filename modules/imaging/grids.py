"""Image grids and their labels, as A1111 1.10 draws them (`images.image_grid`, `draw_grid_annotations`,
`draw_prompt_matrix`): pure PIL, no settings read here — callers pass rows, colours and the font file.

A labelled grid is the plain grid of `cols × rows` cells of `width × height`, a column of row labels on the left
(3/4 of a cell wide, only when some row label has text), a band of column labels on top, and `margin` pixels
between cells. Labels wrap at word boundaries to the space they have; a word too long for it shrinks its line's
font; an inactive label (prompt matrix: that part is not in this cell's prompt) is grey and struck through.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence

from PIL import Image, ImageColor, ImageDraw, ImageFont

from modules.errors import InvalidInput

ACTIVE_COLOR, INACTIVE_COLOR, BACKGROUND_COLOR = "#000000", "#999999", "#ffffff"  # A1111's grid_* defaults
STRIKE_WIDTH = 4


def grid_rows(count: int, batch_size: int = 1, n_rows: int = -1, prevent_empty_spots: bool = False) -> int:
    """How many rows a grid of `count` images gets (A1111's `n_rows` setting: > 0 fixed, 0 the batch size,
    -1 about square; `grid_prevent_empty_spots` picks a divisor of count instead).

    >>> grid_rows(4), grid_rows(6), grid_rows(8), grid_rows(3)
    (2, 2, 3, 2)
    >>> grid_rows(8, prevent_empty_spots=True), grid_rows(7, prevent_empty_spots=True)
    (2, 1)
    >>> grid_rows(6, batch_size=3, n_rows=0), grid_rows(6, n_rows=4), grid_rows(2, n_rows=5)
    (3, 4, 2)
    """
    if n_rows > 0:
        rows = n_rows
    elif n_rows == 0:
        rows = batch_size
    elif prevent_empty_spots:
        rows = math.floor(math.sqrt(count))
        while rows > 1 and count % rows:
            rows -= 1
    else:
        rows = round(math.sqrt(count))
    return max(1, min(rows, count))


def grid_shape(count: int, rows: int) -> tuple[int, int]:
    """(cols, rows) for `count` images in at most `rows` rows (never more rows than images).

    >>> grid_shape(5, 2), grid_shape(3, 10), grid_shape(6, 1)
    ((3, 2), (1, 3), (6, 1))
    """
    if count < 1:
        raise InvalidInput("images", "no images to put in a grid", "at least one image")
    rows = max(1, min(int(rows), count))
    return math.ceil(count / rows), rows


def paste_grid(images: Sequence[Image.Image], cols: int, rows: int, background: str = BACKGROUND_COLOR) -> Image.Image:
    """Images in reading order on a cols × rows grid; each cell is as large as the largest image, and smaller
    images sit centred in theirs (A1111 1.10)."""
    if not images:
        raise InvalidInput("images", "no images to put in a grid", "at least one image")
    w, h = (max(sizes) for sizes in zip(*(im.size for im in images)))
    grid = Image.new("RGB", (cols * w, rows * h), ImageColor.getrgb(background))
    for i, im in enumerate(images):
        grid.paste(im, ((i % cols) * w + (w - im.width) // 2, (i // cols) * h + (h - im.height) // 2))
    return grid


class GridAnnotation:
    """One label line (A1111's class; extensions build these): text, whether it is active, and once measured its
    size and the width it may take."""

    def __init__(self, text: str = "", is_active: bool = True):
        self.text = text
        self.is_active = is_active
        self.size: tuple[float, float] | None = None  # Pillow measures text in fractional pixels
        self.allowed_width: float | None = None

    def __repr__(self) -> str:
        return f"GridAnnotation({self.text!r}, is_active={self.is_active})"


@functools.lru_cache(maxsize=64)
def load_font(size: int, path: str | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font of `size` px: the file at `path` (A1111's `font` setting) when it loads, else Pillow's
    bundled font, so labels look the same on every machine."""
    size = max(int(size), 1)
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def wrap_words(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy word wrap: words joined by single spaces while `fits(line)`; a word that fits nowhere gets its own
    line (the drawing shrinks it).

    >>> wrap_words("a bb ccc dddd", lambda line: len(line) <= 6)
    ['a bb', 'ccc', 'dddd']
    >>> wrap_words("", lambda line: True), wrap_words("longword x", lambda line: len(line) <= 3)
    ([''], ['', 'longword', 'x'])
    """
    lines = [""]
    for word in text.split():
        joined = f"{lines[-1]} {word}".strip()
        if fits(joined):
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


@dataclass(frozen=True)
class GridStyle:
    """Colours and font file of the labels (A1111's grid_text_active_color, grid_text_inactive_color,
    grid_background_color and font settings)."""

    active: str = ACTIVE_COLOR
    inactive: str = INACTIVE_COLOR
    background: str = BACKGROUND_COLOR
    font_path: str | None = None


def _fits(draw: ImageDraw.ImageDraw, font, allowed: float) -> Callable[[str], bool]:
    return lambda text: draw.textlength(text, font=font) <= allowed


def _measured(groups: list[list[GridAnnotation]], widths: list[int], font, draw: ImageDraw.ImageDraw):
    """Each label group wrapped to its width and measured; new GridAnnotation objects (inputs stay as given)."""
    out = []
    for group, allowed in zip(groups, widths):
        lines = [GridAnnotation(text, ann.is_active) for ann in group
                 for text in wrap_words(ann.text, _fits(draw, font, allowed))]
        for line in lines:
            left, top, right, bottom = draw.multiline_textbbox((0, 0), line.text, font=font)
            line.size, line.allowed_width = (right - left, bottom - top), allowed
        out.append(lines)
    return out


def _draw_lines(draw: ImageDraw.ImageDraw, x: float, y: float, lines: list[GridAnnotation], fontsize: int,
                spacing: int, style: GridStyle) -> None:
    """A group of lines centred on x from y down; a line wider than allowed is drawn with a smaller font."""
    for line in lines:
        assert line.size is not None and line.allowed_width is not None  # measured by _measured
        size = fontsize
        font = load_font(size, style.font_path)
        while size > 1 and draw.textlength(line.text, font=font) > line.allowed_width:
            size -= 1
            font = load_font(size, style.font_path)
        color = ImageColor.getrgb(style.active if line.is_active else style.inactive)
        draw.multiline_text((x, y + line.size[1] / 2), line.text, font=font, fill=color, anchor="mm", align="center")
        if not line.is_active:
            half_w, mid = line.size[0] // 2, y + line.size[1] // 2
            draw.line((x - half_w, mid, x + half_w, mid), fill=color, width=STRIKE_WIDTH)
        y += line.size[1] + spacing


def draw_grid_annotations(im: Image.Image, width: int, height: int, hor_texts: list[list[GridAnnotation]],
                          ver_texts: list[list[GridAnnotation]], margin: int = 0,
                          style: GridStyle = GridStyle()) -> Image.Image:
    """The grid `im` of width × height cells with column labels on top and row labels on the left.

    hor_texts: one list of lines per column; ver_texts: one per row (A1111's argument layout).
    """
    cols, rows = im.width // width, im.height // height
    if cols != len(hor_texts) or rows != len(ver_texts):
        raise InvalidInput("grid labels", f"{len(hor_texts)} column and {len(ver_texts)} row labels for a "
                           f"{cols}x{rows} grid", f"{cols} column labels and {rows} row labels")
    fontsize = (width + height) // 25
    spacing = fontsize // 2
    font = load_font(fontsize, style.font_path)
    pad_left = width * 3 // 4 if any(line.text for lines in ver_texts for line in lines) else 0
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    hor = _measured(hor_texts, [width] * cols, font, draw)
    ver = _measured(ver_texts, [pad_left] * rows, font, draw)
    hor_heights = [sum(line.size[1] + spacing for line in lines) - spacing for lines in hor]
    ver_heights = [sum(line.size[1] + spacing for line in lines) - spacing * len(lines) for lines in ver]
    pad_top = max(hor_heights) + spacing * 2 if sum(hor_heights) else 0

    result = Image.new("RGB", (im.width + pad_left + margin * (cols - 1), im.height + pad_top + margin * (rows - 1)),
                       ImageColor.getrgb(style.background))
    for row in range(rows):
        for col in range(cols):
            cell = im.crop((width * col, height * row, width * (col + 1), height * (row + 1)))
            result.paste(cell, (pad_left + (width + margin) * col, pad_top + (height + margin) * row))
    out = ImageDraw.Draw(result)
    for col in range(cols):
        _draw_lines(out, pad_left + (width + margin) * col + width / 2, pad_top / 2 - hor_heights[col] / 2, hor[col],
                    fontsize, spacing, style)
    for row in range(rows):
        _draw_lines(out, pad_left / 2, pad_top + (height + margin) * row + height / 2 - ver_heights[row] / 2,
                    ver[row], fontsize, spacing, style)
    return result


def prompt_matrix_annotations(all_prompts: Sequence[str]) -> tuple[list[list[GridAnnotation]],
                                                                   list[list[GridAnnotation]]]:
    """Labels of a prompt matrix: the optional parts (all_prompts[1:]) split between columns (first half) and
    rows; cell k of an axis has part i active when bit i of k is set.

    >>> hor, ver = prompt_matrix_annotations(["base", "a", "b", "c"])
    >>> [[(g.text, g.is_active) for g in col] for col in hor]
    [[('a', False), ('b', False)], [('a', True), ('b', False)], [('a', False), ('b', True)], [('a', True), ('b', True)]]
    >>> [[(g.text, g.is_active) for g in row] for row in ver]
    [[('c', False)], [('c', True)]]
    """
    parts = list(all_prompts[1:])
    boundary = math.ceil(len(parts) / 2)
    horizontal, vertical = parts[:boundary], parts[boundary:]

    def axis(names: list[str]) -> list[list[GridAnnotation]]:
        return [[GridAnnotation(name, bool(pos & (1 << i))) for i, name in enumerate(names)]
                for pos in range(1 << len(names))]

    return axis(horizontal), axis(vertical)


def draw_prompt_matrix(im: Image.Image, width: int, height: int, all_prompts: Sequence[str], margin: int = 0,
                       style: GridStyle = GridStyle()) -> Image.Image:
    """A prompt matrix grid labelled with which optional parts each column and row has."""
    hor, ver = prompt_matrix_annotations(all_prompts)
    return draw_grid_annotations(im, width, height, hor, ver, margin, style)
