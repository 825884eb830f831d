"""Grids and their labels (modules/imaging/grids.py): layout maths, pasting, labelled grids, prompt matrices."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging import filename_pattern, grids
from modules.imaging.grids import GridAnnotation


def test_doctests():
    for module in (grids, filename_pattern):
        assert doctest.testmod(module).failed == 0


def cells(n, size=(64, 48)):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    return [Image.new("RGB", size, colours[i % len(colours)]) for i in range(n)]


def test_paste_grid_places_cells_in_reading_order():
    grid = grids.paste_grid(cells(5), 3, 2)
    assert grid.size == (3 * 64, 2 * 48)
    pixels = np.asarray(grid)
    assert tuple(pixels[10, 10]) == (255, 0, 0) and tuple(pixels[10, 64 + 10]) == (0, 255, 0)
    assert tuple(pixels[48 + 10, 64 + 10]) == (0, 255, 255)  # image 4: second row, second column
    assert tuple(pixels[48 + 10, 128 + 10]) == (255, 255, 255)  # the empty sixth cell shows the background


def test_paste_grid_centres_smaller_images():
    grid = grids.paste_grid([Image.new("RGB", (64, 64), "red"), Image.new("RGB", (32, 32), "blue")], 2, 1,
                            background="black")
    pixels = np.asarray(grid)
    assert tuple(pixels[32, 64 + 32]) == (0, 0, 255) and tuple(pixels[2, 64 + 2]) == (0, 0, 0)


def test_empty_grid_is_refused():
    with pytest.raises(InvalidInput):
        grids.grid_shape(0, 1)
    with pytest.raises(InvalidInput):
        grids.paste_grid([], 1, 1)


def test_annotations_add_label_bands_and_keep_cells():
    plain = grids.paste_grid(cells(6), 3, 2)
    hor = [[GridAnnotation(f"Steps: {s}")] for s in (2, 3, 4)]
    ver = [[GridAnnotation("CFG Scale: 5")], [GridAnnotation("CFG Scale: 7")]]
    labelled = grids.draw_grid_annotations(plain, 64, 48, hor, ver, margin=6)
    pad_left = 64 * 3 // 4
    pad_top = labelled.height - plain.height - 6
    assert labelled.width == plain.width + pad_left + 2 * 6 and pad_top > 0
    cell = labelled.crop((pad_left + 70, pad_top + 54, pad_left + 70 + 64, pad_top + 54 + 48))
    assert np.array_equal(np.asarray(cell), np.asarray(cells(6)[4]))  # second row, second column, after margins
    band = np.asarray(labelled.crop((pad_left, 0, labelled.width, pad_top)))
    assert (band < 128).any(), "column labels are drawn in the top band"
    assert [a.text for a in hor[0]] == ["Steps: 2"], "the caller's annotations are not rewritten"


def test_annotations_without_row_labels_have_no_left_column():
    plain = grids.paste_grid(cells(2), 2, 1)
    labelled = grids.draw_grid_annotations(plain, 64, 48, [[GridAnnotation("a")], [GridAnnotation("b")]],
                                           [[GridAnnotation()]])
    assert labelled.width == plain.width


def test_annotations_must_match_the_grid():
    with pytest.raises(InvalidInput, match="2 column labels"):
        grids.draw_grid_annotations(grids.paste_grid(cells(2), 2, 1), 64, 48, [[GridAnnotation("a")]],
                                    [[GridAnnotation()]])


def test_long_labels_wrap_and_shrink():
    plain = grids.paste_grid(cells(1), 1, 1)
    text = "a rather long label that cannot fit on one line of a tiny cell averyveryverylongwordindeed"
    labelled = grids.draw_grid_annotations(plain, 64, 48, [[GridAnnotation(text)]], [[GridAnnotation()]])
    assert labelled.width == 64 and labelled.height > 48


def test_prompt_matrix_grid():
    parts = ["base", "one", "two"]
    grid = grids.paste_grid(cells(4), 2, 2)
    out = grids.draw_prompt_matrix(grid, 64, 48, parts)
    assert out.width > grid.width and out.height > grid.height


def test_font_falls_back_to_the_bundled_font():
    assert grids.load_font(12, "/no/such/font.ttf").size == 12
