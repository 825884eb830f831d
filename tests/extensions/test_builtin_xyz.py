"""The built-in X/Y/Z plot (extensions-builtin/xyz-grid): its pure value parsing, A1111's axis indices, and Steps ×
CFG on the tiny model through App.txt2img and through /sdapi/v1/txt2img, a labelled grid plus each image with its
own infotext."""
from __future__ import annotations

import base64
import doctest
import io
import json

import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.extensions.compat import binding
from modules.imaging.metadata import read_image_metadata
from modules.pipeline.request import GenerationRequest
from tests.api.conftest import make_client
from tests.extensions.conftest import load_builtin

BASE = dict(prompt="a red cube", steps=2, width=64, height=64, seed=5, sampler_name="Euler")
# Draw legend, include sub-images, no sub-grids, fixed seeds, vary seeds for X/Y/Z off, no margin, dropdowns
# (A1111 1.10's order: script_args[9:18])
OPTIONS = [True, True, False, False, False, False, False, 0, False]
STEPS, CFG = 4, 6  # A1111 1.10's txt2img axis indices


def load(name: str):
    """A module of the extension folder, imported as the script loader does (the folder on sys.path)."""
    return load_builtin(f"xyz-grid/{name}.py", folder="xyz-grid")


def xyz_args(x_type, x_values, y_type=0, y_values="", z_type=0, z_values="", options=OPTIONS):
    return [x_type, x_values, [], y_type, y_values, [], z_type, z_values, [], *options]


@pytest.fixture(scope="module")
def app(builtin_app):
    return builtin_app


@pytest.fixture(autouse=True)
def bound(request):
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        binding.bind(app, app.scripts)  # another App (the API test's) may have bound itself since


def test_value_parsing_doctests():
    assert doctest.testmod(load("xyz_values")).failed == 0


# A1111 1.10.1's axis names per tab, in the order of scripts/xyz_grid.py's `axis_options` filtered for that tab
# (names only: what a client's x_type/y_type/z_type index means there)
A1111_TXT2IMG = [
    "Nothing", "Seed", "Var. seed", "Var. strength", "Steps", "Hires steps", "CFG Scale", "Prompt S/R", "Prompt order",
    "Sampler", "Hires sampler", "Checkpoint name", "Negative Guidance minimum sigma", "Sigma Churn", "Sigma min",
    "Sigma max", "Sigma noise", "Schedule type", "Schedule min sigma", "Schedule max sigma", "Schedule rho",
    "Beta schedule alpha", "Beta schedule beta", "Eta", "Clip skip", "Denoising", "Initial noise multiplier",
    "Extra noise", "Hires upscaler", "VAE", "Styles", "UniPC Order", "Face restore", "Token merging ratio",
    "Token merging ratio high-res", "Always discard next-to-last sigma", "SGM noise multiplier", "Refiner checkpoint",
    "Refiner switch at", "RNG source", "FP8 mode", "Size"]
A1111_IMG2IMG = [
    "Nothing", "Seed", "Var. seed", "Var. strength", "Steps", "CFG Scale", "Image CFG Scale", "Prompt S/R",
    "Prompt order", "Sampler", "Checkpoint name", "Negative Guidance minimum sigma", "Sigma Churn", "Sigma min",
    "Sigma max", "Sigma noise", "Schedule type", "Schedule min sigma", "Schedule max sigma", "Schedule rho",
    "Beta schedule alpha", "Beta schedule beta", "Eta", "Clip skip", "Denoising", "Initial noise multiplier",
    "Extra noise", "Cond. Image Mask Weight", "VAE", "Styles", "UniPC Order", "Face restore", "Token merging ratio",
    "Token merging ratio high-res", "Always discard next-to-last sigma", "SGM noise multiplier", "Refiner checkpoint",
    "Refiner switch at", "RNG source", "FP8 mode", "Size"]
# A1111's built-in Hypertile extension appends these to both tabs, before any other extension's axes
A1111_HYPERTILE = [
    "[Hypertile] Unet First pass Enabled", "[Hypertile] Unet Second pass Enabled", "[Hypertile] Unet Max Depth",
    "[Hypertile] Unet Max Tile Size", "[Hypertile] Unet Swap Size", "[Hypertile] VAE Enabled",
    "[Hypertile] VAE Max Depth", "[Hypertile] VAE Max Tile Size", "[Hypertile] VAE Swap Size"]
A1111_TXT2IMG += A1111_HYPERTILE
A1111_IMG2IMG += A1111_HYPERTILE
# sd-webui-controlnet's axes (built in here), where an A1111 install with that extension lists them
CONTROLNET = ["[ControlNet] Enabled", "[ControlNet] Model", "[ControlNet] Weight", "[ControlNet] Guidance Start",
              "[ControlNet] Guidance End", "[ControlNet] Control Mode", "[ControlNet] Resize Mode",
              "[ControlNet] Preprocessor", "[ControlNet] Pre Resolution", "[ControlNet] Pre Threshold A",
              "[ControlNet] Pre Threshold B"]
A1111_TXT2IMG += CONTROLNET
A1111_IMG2IMG += CONTROLNET
EASEL_AXES = ["DeepCache interval"]  # listed after every extension's axes


def test_axes_keep_a1111_indices():
    axes = load("xyz_axes")
    script = load("scripts/xyz_grid")
    txt2img = [o.label for o in script.options_for(False)]
    img2img = [o.label for o in script.options_for(True)]
    assert txt2img[:len(A1111_TXT2IMG)] == A1111_TXT2IMG
    assert img2img[:len(A1111_IMG2IMG)] == A1111_IMG2IMG
    assert txt2img[STEPS] == "Steps" and txt2img[CFG] == "CFG Scale" and txt2img[24] == "Clip skip"
    assert img2img[23] == "Clip skip"
    assert txt2img[len(A1111_TXT2IMG):] == EASEL_AXES and img2img[len(A1111_IMG2IMG):] == EASEL_AXES, \
        "only Easel's own axes after A1111's, and they come last: those other extensions append get A1111's indices"
    assert script.axis_options is axes.axis_options or [o.label for o in script.axis_options] == \
        [o.label for o in axes.axis_options]


def test_pick_axis_by_index_or_label():
    script = load("scripts/xyz_grid")
    options = script.options_for(False)
    assert script.pick_axis(options, STEPS).label == "Steps"
    assert script.pick_axis(options, "cfg scale").label == "CFG Scale"
    assert script.pick_axis(options, "6").label == "CFG Scale"
    with pytest.raises(InvalidInput, match=r"unknown axis 'Bogus' \(valid: 0: Nothing, 1: Seed"):
        script.pick_axis(options, "Bogus")
    with pytest.raises(InvalidInput, match=r"^script_args\[3\] \(Y type\): X/Y/Z plot: axis index 999 is out of "
                                           r"range 0 to 62 \(valid: 0: Nothing.*, 41: Size, .*, "
                                           r"62: DeepCache interval\)$"):
        script.pick_axis(options, 999, "script_args[3] (Y type)")
    with pytest.raises(InvalidInput, match="neither an index nor a label"):
        script.pick_axis(options, [1])
    assert script.pick_axis(options, 24.0).label == "Clip skip"
    assert doctest.testmod(script).failed == 0


def cell_of(grid: Image.Image, col: int, row: int, size: int, cols: int, rows: int) -> np.ndarray:
    """A cell of a labelled grid without margins: labels take the top band and (row labels) 3/4 of a cell on the
    left."""
    pad_left, pad_top = grid.width - cols * size, grid.height - rows * size
    box = (pad_left + col * size, pad_top + row * size, pad_left + (col + 1) * size, pad_top + (row + 1) * size)
    return np.asarray(grid.crop(box))


def test_steps_by_cfg_gives_a_labelled_grid_and_each_image_with_its_infotext(app):
    result = app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot",
                                           script_args=xyz_args(STEPS, "1-2", CFG, "5, 7.5")))
    grid, cells = result.images[0], result.images[1:]
    assert len(cells) == 4 and all(c.size == (64, 64) for c in cells)
    assert grid.width == 2 * 64 + 64 * 3 // 4 and grid.height > 2 * 64  # row labels on the left, column labels on top
    assert (np.asarray(grid.crop((0, 0, grid.width, grid.height - 128))) < 100).any(), "labels are drawn"
    for i, image in enumerate(cells):  # x fastest: (1, 5), (2, 5), (1, 7.5), (2, 7.5)
        assert np.array_equal(cell_of(grid, i % 2, i // 2, 64, 2, 2), np.asarray(image))
    expected = [("Steps: 1", "CFG scale: 5,"), ("Steps: 2", "CFG scale: 5,"), ("Steps: 1", "CFG scale: 7.5"),
                ("Steps: 2", "CFG scale: 7.5")]
    for text, (steps, cfg) in zip(result.infotexts[1:], expected):
        assert steps in text and cfg in text and "Seed: 5," in text and "X/Y/Z plot" not in text
    grid_text = result.infotexts[0]
    for part in ("Script: X/Y/Z plot", "X Type: Steps", "X Values: 1-2", "Y Type: CFG Scale", 'Y Values: "5, 7.5"'):
        assert part in grid_text
    assert result.all_seeds == [5, 5, 5, 5] and result.info["index_of_first_image"] == 1


def test_seed_axis_fixes_random_seeds_and_records_them(app):
    result = app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot",
                                           script_args=xyz_args(1, "-1, 3", options=[False, True, False, False, False,
                                                                                     False, False, 0, False])))
    drawn = result.all_seeds[0]
    assert result.all_seeds == [drawn, 3] and drawn != -1
    assert f"Fixed X Values: \"{drawn}, 3\"" in result.infotexts[0]
    assert result.images[0].size == (128, 64), "no legend: the bare grid"


def test_prompt_sr_and_sampler_axes(app):
    result = app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot",
                                           script_args=[7, "red, blue", [], 9, "", ["Euler", "Euler a"], 0, "", [],
                                                        *OPTIONS]))
    assert result.all_prompts == ["a red cube", "a blue cube", "a red cube", "a blue cube"]
    assert "Sampler: Euler a" in result.infotexts[3]


def test_three_axes_with_sub_grids(app):
    options = [True, False, True, False, False, False, False, 4, False]
    result = app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot",
                                           script_args=xyz_args(STEPS, "1, 2", 0, "", CFG, "5, 7", options)))
    main, sub1, sub2 = result.images
    assert sub1.size == sub2.size and main.width == 2 * sub1.width + 0 and main.height > sub1.height
    assert "Z Type: CFG Scale" in result.infotexts[0] and "Z Type" not in result.infotexts[1]


def test_bad_values_are_refused_with_the_axis_named(app):
    cases = [(xyz_args(STEPS, "five"), "axis Steps: 'five' is not a whole number"),
             (xyz_args(9, "Euler, Nope"), "Unknown sampler: Nope"),
             (xyz_args(7, "dog, cat"), "Prompt S/R did not find 'dog'")]
    for args, message in cases:
        with pytest.raises(Exception, match=message):
            app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot", script_args=args))


def test_saved_grid_carries_the_grid_infotext(app):
    app.txt2img(GenerationRequest(**BASE, save_images=True, script_name="X/Y/Z plot",
                                  script_args=xyz_args(STEPS, "1, 2")))
    grids = list((app.paths.data_dir / "outputs" / "txt2img-grids").rglob("xyz_grid-*.png"))
    assert len(grids) == 1
    assert "X Type: Steps" in read_image_metadata(Image.open(grids[0]))[0]


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def test_api_runs_the_plot_by_script_name(tmp_path, tiny_checkpoint):
    with make_client(tmp_path, tiny_checkpoint) as client:
        assert "x/y/z plot" in client.get("/sdapi/v1/scripts").json()["txt2img"]
        r = client.post("/sdapi/v1/txt2img", json={**BASE, "script_name": "x/y/z plot",
                                                  "script_args": xyz_args(STEPS, "1-2", CFG, "5, 7")})
        assert r.status_code == 200, r.text
        body = r.json()
        info = json.loads(body["info"])
        images = [decode(b) for b in body["images"]]
        assert len(images) == 5 and images[0].width > 128 and all(im.size == (64, 64) for im in images[1:])
        assert [im.info["parameters"] for im in images] == info["infotexts"]
        assert "X Type: Steps" in info["infotexts"][0] and "Steps: 2, Sampler: Euler, CFG scale: 7" in \
            info["infotexts"][4]


def test_the_page_builds_the_plot_panel_and_its_values_run_it(app):
    """Through the UI: the txt2img page's Script section turns the panel's values into the request."""
    from modules.extensions.compat.reporting import FAILURES
    from modules.ui.layout import build_ui

    before = len(FAILURES.failures)
    blocks = build_ui(app)
    assert FAILURES.failures[before:] == [], "every built-in script's ui() builds"
    ids = {b.elem_id: b for b in blocks.blocks.values() if getattr(b, "elem_id", None)}
    assert ids["script_txt2img_xyz_plot_x_type"].choices[STEPS][0] == "Steps"
    assert "script_txt2img_xyz_plot_include_lone_images" in ids and "xyz_grid_fill_x_tool_button" in ids
    assert {"xy_grid_swap_axes_button", "yz_grid_swap_axes_button", "xz_grid_swap_axes_button"} <= set(ids)
    assert "script_txt2img_xyz_plot_vary_seeds_z" in ids
    section = blocks.easel_context.shared["txt2img_scripts"]
    script = app.scripts.runners["txt2img"].find("X/Y/Z plot")
    values = [c.value for c in section.inputs]
    values[0] = "X/Y/Z plot"
    values[script.args_from:script.args_to] = xyz_args(STEPS, "1-2", CFG, "5, 7")  # as Gradio hands them over
    result = app.txt2img(GenerationRequest(**BASE, **section.request_fields(values)))
    assert len(result.images) == 5 and "X Type: Steps" in result.infotexts[0]
    assert "Steps: 2, Sampler: Euler, CFG scale: 7" in result.infotexts[4]


AXIS_CASES = [  # (axis label, values, a fragment of each cell's infotext)
    ("Var. strength", "0.25, 0.5", ["Variation seed strength: 0.25", "Variation seed strength: 0.5"]),
    ("Schedule type", "Karras, Exponential", ["Schedule type: Karras", "Schedule type: Exponential"]),
    ("Clip skip", "1, 2", ["Seed: 5, Size: 64x64", "Clip skip: 2"]),
    ("Size", "64x64, 96x64", ["Size: 64x64", "Size: 96x64"]),
    ("VAE", "Automatic, None", ["Model: ", "Model: "]),
    ("Styles", "Hat", ["a red cube, wearing a hat"]),
    ("Checkpoint name", "{checkpoint}", ["Model: {model}"]),
    ("Token merging ratio", "0, 0.5", ["Seed: 5, Size: 64x64", "Token merging ratio: 0.5"]),
    ("DeepCache interval", "1, 2", ["Seed: 5, Size: 64x64", "DeepCache interval: 2"]),
    ("SGM noise multiplier", "False, True", ["Seed: 5, Size: 64x64", "SGM noise multiplier: True"]),
    ("Negative Guidance minimum sigma", "0, 100", ["Seed: 5, Size: 64x64", "NGMS: 100"]),
    ("[Hypertile] Unet First pass Enabled", "False, True", ["Seed: 5, Size: 64x64", "Hypertile U-Net: True"]),
    ("[Hypertile] VAE Enabled", "False, True", ["Seed: 5, Size: 64x64", "Hypertile VAE: True"]),
    ("FP8 mode", "Disable, Enable", ["Seed: 5, Size: 64x64", "FP8 weight: Enable"]),
    ("Refiner checkpoint", "None, {other}", ["Seed: 5, Size: 64x64", "Refiner: {other_model} ["]),
]


@pytest.mark.parametrize("label, values, fragments", AXIS_CASES, ids=[c[0] for c in AXIS_CASES])
def test_axes_set_what_their_label_says(app, label, values, fragments):
    from modules.prompts.styles import PromptStyle

    app.services.styles.set(PromptStyle("Hat", "{prompt}, wearing a hat"))
    checkpoint, other = app.models.list_checkpoints()[:2]  # the built-in model is listed after the user's own
    values = values.format(checkpoint=checkpoint.name, other=other.name)
    result = app.txt2img(GenerationRequest(**BASE, subseed=9, script_name="X/Y/Z plot",
                                           script_args=xyz_args(label, values)))
    assert len(result.infotexts) == len(fragments) + 1
    for text, fragment in zip(result.infotexts[1:], fragments):
        assert fragment.format(model=checkpoint.model_name, other_model=other.model_name) in text
    assert f"X Type: {label}" in result.infotexts[0]


def test_unipc_order_axis_is_capped_below_the_steps(app):
    """A1111's axis sets uni_pc_order to min(value, steps - 1): 9 with 3 steps runs at order 2."""
    unipc = {**BASE, "sampler_name": "UniPC", "steps": 3}
    result = app.txt2img(GenerationRequest(**unipc, script_name="X/Y/Z plot",
                                           script_args=xyz_args("UniPC Order", "1, 9")))
    direct = [app.txt2img(GenerationRequest(**unipc, override_settings={"uni_pc_order": order})).images[0]
              for order in (1, 2)]
    cells = [np.asarray(im) for im in result.images[1:]]
    assert np.array_equal(cells[0], np.asarray(direct[0])) and np.array_equal(cells[1], np.asarray(direct[1]))
    assert not np.array_equal(cells[0], cells[1])


def test_img2img_plot_over_denoising(app):
    from modules.pipeline.img2img_request import Img2ImgRequest

    init = Image.new("RGB", (64, 64), (200, 30, 30))
    result = app.img2img(Img2ImgRequest(**BASE, init_images=(init,), script_name="X/Y/Z plot",
                                        script_args=xyz_args("Denoising", "0.25, 0.75")))
    assert [("Denoising strength: 0.25" in result.infotexts[1]), ("Denoising strength: 0.75" in result.infotexts[2])] \
        == [True, True]
    assert result.images[0].width == 2 * 64


def test_img2img_plot_over_extra_noise(app):
    from modules.pipeline.img2img_request import Img2ImgRequest

    init = Image.new("RGB", (64, 64), (200, 30, 30))
    result = app.img2img(Img2ImgRequest(**BASE, init_images=(init,), denoising_strength=0.5,
                                        script_name="X/Y/Z plot", script_args=xyz_args("Extra noise", "0, 0.3")))
    assert "Extra noise" not in result.infotexts[1] and "Extra noise: 0.3" in result.infotexts[2]


def test_face_restore_axis_turns_restoration_on_with_the_model_named(app, monkeypatch):
    from tests.pipeline.test_face_restoration import supply_models

    calls = supply_models(app, monkeypatch)
    index = A1111_TXT2IMG.index("Face restore")
    result = app.txt2img(GenerationRequest(**BASE, script_name="X/Y/Z plot",
                                           script_args=xyz_args(index, "false, GFPGAN")))
    assert "Face restoration" not in result.infotexts[1]
    assert "Face restoration: GFPGAN" in result.infotexts[2] and "GFPGAN" in calls
    assert not np.array_equal(np.asarray(result.images[1]), np.asarray(result.images[2]))


@pytest.mark.parametrize("label, values, fragments", [
    ("Beta schedule alpha", "0.6, 0.3", ["Beta schedule alpha: 0.6", "Beta schedule alpha: 0.3"]),
    ("Beta schedule beta", "0.6, 0.4", ["Beta schedule beta: 0.6", "Beta schedule beta: 0.4"]),
    ("Always discard next-to-last sigma", "False, True", ["Seed: 5,", "Discard penultimate sigma: True"]),
])
def test_schedule_setting_axes_reach_the_sigmas(app, label, values, fragments):
    """Axes that override a schedule setting: each cell's infotext says the value its sigmas were built with, and
    the images differ (the schedules do)."""
    result = app.txt2img(GenerationRequest(**{**BASE, "steps": 4}, scheduler="beta", script_name="X/Y/Z plot",
                                           script_args=xyz_args(A1111_TXT2IMG.index(label), values)))
    for text, fragment in zip(result.infotexts[1:], fragments):
        assert fragment in text
    assert "Discard penultimate sigma" not in result.infotexts[1]
    assert not np.array_equal(np.asarray(result.images[1]), np.asarray(result.images[2]))
