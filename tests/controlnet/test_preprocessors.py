"""Model-free preprocessors (names, sliders, outputs), resize modes on the detected map, pixel perfect."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from modules.controlnet.detect import detect_for_unit, map_image, run_preprocessor, unit_inputs
from modules.controlnet.preprocessors import default_registry
from modules.controlnet.preprocessors.edges import canny_edges
from modules.controlnet.resize import fit_map, hint_array, pixel_perfect_resolution
from modules.controlnet.units import ControlUnit, ResizeMode
from modules.errors import InvalidInput

REG = default_registry()


def square(size=(64, 64), box=(16, 16, 47, 47), fg="white", bg="black") -> Image.Image:
    image = Image.new("RGB", size, bg)
    ImageDraw.Draw(image).rectangle(box, fill=fg)
    return image


def test_listing_follows_the_extension():
    names = REG.names()
    assert names[0] == "none" and {"canny", "invert", "threshold", "scribble_xdog", "lineart_standard",
                                   "tile_resample", "shuffle", "inpaint", "inpaint_only"} <= set(names)
    assert "invert (from white bg & black line)" in REG.names(labels=True)
    assert REG.get("inpaint_global_harmonious").name == "inpaint"  # labels are accepted as names
    canny = REG.get("canny").detail()
    assert canny["sliders"][1] == {"name": "Low Threshold", "value": 100, "min": 1, "max": 255, "step": 1}
    assert [s["name"] for s in REG.get("tile_resample").detail()["sliders"]] == ["Down Sampling Rate"]


def test_network_preprocessors_name_the_weight_file():
    with pytest.raises(InvalidInput, match="dpt_hybrid-midas-501f0c75.pt in models/annotator/midas"):
        REG.get("depth_midas", "controlnet.args[0].module")
    with pytest.raises(InvalidInput, match="GET /controlnet/module_list"):
        REG.get("nope")


def test_sliders_fall_back_to_defaults_out_of_range():
    params = REG.get("canny").params(-1, -1, 300)
    assert (params.resolution, params.a, params.b) == (512, 100, 200)
    params = REG.get("canny").params(128, 20, 90)
    assert (params.resolution, params.a, params.b) == (128, 20, 90)


def test_canny_draws_the_outline_only():
    edges = canny_edges(np.asarray(square()), 100, 200)
    assert edges[16, 30] or edges[15, 30]  # the top side
    assert not edges[30, 30] and not edges[2, 2]  # neither inside nor outside
    assert edges.sum() < 4 * 40  # thin: about one pixel per side
    assert not canny_edges(np.asarray(square()), 2000, 3000).any()  # thresholds matter


def test_canny_hysteresis_keeps_weak_edges_joined_to_strong():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 16:] = 255
    image[16:, 16:] = 80  # the lower half of the edge is weak
    full = canny_edges(image, 50, 500)
    assert full[5:28, 14:18].any(axis=1).all()  # the weak half survives: it touches the strong half
    image[:16, 16:] = 0  # now only the weak edge is left
    assert not canny_edges(image, 50, 500).any()


@pytest.mark.parametrize("module", ["none", "invert", "canny", "threshold", "scribble_xdog", "lineart_standard",
                                    "tile_resample", "blur_gaussian", "shuffle"])
def test_every_preprocessor_gives_a_map(module):
    out = run_preprocessor(REG, module, square(), processor_res=64, threshold_a=-1, threshold_b=-1)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


def test_what_each_map_means():
    img = square()
    assert (run_preprocessor(REG, "invert", img)[30, 30] == 0).all()
    thr = run_preprocessor(REG, "threshold", img, processor_res=64)
    assert thr[30, 30, 0] == 255 and thr[2, 2, 0] == 0
    drawing = square(fg="black", bg="white", box=(10, 30, 50, 32))  # a dark line on white
    line = run_preprocessor(REG, "lineart_standard", drawing, processor_res=64)
    assert line[31, 30, 0] > 100 and line[5, 5, 0] == 0
    assert run_preprocessor(REG, "tile_resample", img, threshold_a=4).shape == (16, 16, 3)
    a = run_preprocessor(REG, "shuffle", img, seed=1)
    assert np.array_equal(a, run_preprocessor(REG, "shuffle", img, seed=1))
    assert not np.array_equal(a, run_preprocessor(REG, "shuffle", img, seed=2))


def test_inpaint_carries_the_mask_and_needs_one():
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 31, 63), fill=255)
    out = run_preprocessor(REG, "inpaint_only", square(), mask, where="controlnet.args[0]")
    assert out.shape == (64, 64, 4) and out[10, 5, 3] == 255 and out[10, 50, 3] == 0
    hint = hint_array(out)
    assert hint[10, 5].tolist() == [-1, -1, -1] and 0 <= hint[10, 50].min() <= 1
    with pytest.raises(InvalidInput) as err:
        run_preprocessor(REG, "inpaint_only", square(), None, where="controlnet.args[0]")
    assert err.value.field == "controlnet.args[0].mask"
    assert map_image(out).mode == "RGB"


def test_resize_modes():
    wide = np.zeros((50, 100, 3), np.uint8)
    wide[:, :50] = 200  # left half grey
    assert fit_map(wide, 40, 40, ResizeMode.JUST_RESIZE)[20, 10, 0] == 200
    cropped = fit_map(wide, 40, 40, ResizeMode.CROP_AND_RESIZE)  # 80×40, the middle 40 kept
    assert cropped[20, 5, 0] == 200 and cropped[20, 35, 0] == 0
    filled = fit_map(wide, 40, 40, ResizeMode.RESIZE_AND_FILL)  # 40×20 in the middle, padded
    assert filled.shape == (40, 40, 3) and filled[20, 5, 0] == 200
    rgba = np.zeros((50, 100, 4), np.uint8)
    assert fit_map(rgba, 40, 40, ResizeMode.RESIZE_AND_FILL)[2, 20, 3] == 255  # padding is to be filled


def test_thin_edges_survive_shrinking():
    edges = np.zeros((256, 256, 3), np.uint8)
    edges[128, :] = 255
    small = fit_map(edges, 64, 64, ResizeMode.JUST_RESIZE)
    assert small[:, :, 0].max() == 255 and set(np.unique(small)) <= {0, 255}


def test_pixel_perfect():
    assert pixel_perfect_resolution(512, 512, 768, 512, ResizeMode.CROP_AND_RESIZE) == 768
    assert pixel_perfect_resolution(512, 512, 768, 512, ResizeMode.RESIZE_AND_FILL) == 512
    unit = ControlUnit(enabled=True, module="canny", image=square((32, 32), (8, 8, 23, 23)), pixel_perfect=True)
    assert detect_for_unit(REG, unit, 64, 96).shape == (96, 64, 3)


def test_unit_without_image_uses_init_image_else_refused():
    unit = ControlUnit(enabled=True, module="canny")
    image, mask = unit_inputs(unit, square(), Image.new("L", (64, 64)))
    assert image.size == (64, 64) and mask is not None
    with pytest.raises(InvalidInput) as err:
        unit_inputs(unit, None, None, "controlnet.args[2]")
    assert err.value.field == "controlnet.args[2].image"


def test_colour_count_classes():
    from modules.controlnet.resize import colour_count

    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert colour_count(noise) == 200  # "a photo": smooth filters
    few = np.zeros((64, 64, 3), np.uint8)
    few[:, :, 0] = np.arange(64)[None, :] % 5 * 50  # 5 colours, e.g. a segmentation map: nearest
    assert colour_count(few) == 5
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4, :, 3] = 255  # the alpha channel counts too
    assert colour_count(rgba) == 2
