"""A1111's thin-view modules (modules.images, sd_samplers, sd_schedulers, sd_models, sd_vae, devices,
paths_internal, infotext_utils) read the App they are bound to, under the names extensions import."""
from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
import torch
from PIL import Image

from modules.extensions.compat import binding, install_aliases
from modules.imaging.metadata import read_image_metadata
from tests.pipeline.conftest import make_app


@pytest.fixture
def bound(tmp_path, tiny_checkpoint):
    install_aliases()
    app = make_app(tmp_path, tiny_checkpoint)
    binding.bind(app)
    yield app
    binding.unbind()
    app.jobs.close()


def a1111(name):
    install_aliases()
    return importlib.import_module(f"modules.{name}")


def test_sd_samplers_lists_the_registry(bound):
    sd_samplers = a1111("sd_samplers")
    names = [s.name for s in sd_samplers.all_samplers]
    assert names[:2] == ["DPM++ 2M", "DPM++ SDE"] and "Euler a" in names
    assert sd_samplers.samplers_map["k_euler_a"] == "Euler a" and sd_samplers.samplers_map["euler"] == "Euler"
    assert sd_samplers.visible_sampler_names() == names
    row = sd_samplers.find_sampler_config("k_dpmpp_2m")
    assert isinstance(row, sd_samplers.SamplerData) and row.name == "DPM++ 2M" and "k_dpmpp_2m" in row.aliases
    assert sd_samplers.find_sampler_config("no such") is None
    assert sd_samplers.get_sampler_and_scheduler("DPM++ 2M Karras", "Automatic") == ("DPM++ 2M", "Karras")
    assert sd_samplers.get_sampler_and_scheduler("Euler", None) == ("Euler", "Automatic")


def test_sd_schedulers(bound):
    sd_schedulers = a1111("sd_schedulers")
    labels = [s.label for s in sd_schedulers.schedulers]
    assert labels[:3] == ["Automatic", "Uniform", "Karras"]
    schedulers_map = sd_schedulers.schedulers_map
    assert schedulers_map["karras"] is not None and schedulers_map["Karras"].name == "karras"


def test_sd_models_names_and_matching(bound):
    sd_models = a1111("sd_models")
    core = bound.models.list_checkpoints()[0]  # the user's tiny checkpoint comes before the built-in model
    info = sd_models.checkpoints_list[core.title]
    assert (info.name, info.model_name, info.filename) == (core.name, core.model_name, str(core.path))
    assert sd_models.get_closet_checkpoint_match(core.model_name).name == core.name
    assert sd_models.get_closet_checkpoint_match(f"{core.name} [0123456789]").name == core.name
    assert sd_models.get_closet_checkpoint_match("nothing like it") is None
    assert sd_models.select_checkpoint().name == core.name
    assert len(info.calculate_shorthash()) == 10 and info.title.endswith(f"[{info.shorthash}]")
    assert len(sd_models.model_hash(info.filename)) == 8 and sd_models.model_hash("/no/file") == "NOFILE"
    view = sd_models.reload_model_weights()
    assert view.sd_checkpoint_info.name == core.name and bound.models.current is not None


def test_sd_vae_and_devices_and_paths(bound, tmp_path):
    sd_vae, devices, paths_internal = a1111("sd_vae"), a1111("devices"), a1111("paths_internal")
    assert sd_vae.vae_dict == {}
    (tmp_path / "models" / "VAE").mkdir(parents=True)
    (tmp_path / "models" / "VAE" / "other.safetensors").write_bytes(b"x")
    sd_vae.refresh_vae_list()
    assert list(sd_vae.vae_dict) == ["other.safetensors"]
    assert sd_vae.resolve_vae("/x/some-model.safetensors").vae is None
    assert devices.device == torch.device("cpu") and devices.cpu == torch.device("cpu")
    assert devices.dtype in (torch.float32, torch.bfloat16) and devices.dtype_vae is not None
    with devices.autocast(), devices.without_autocast():
        devices.torch_gc()
    assert paths_internal.data_path == str(tmp_path) and paths_internal.models_path == str(tmp_path / "models")
    assert paths_internal.extensions_builtin_dir.endswith("extensions-builtin")


def test_infotext_utils(bound):
    infotext_utils = a1111("infotext_utils")
    assert a1111("generation_parameters_copypaste") is infotext_utils
    params = infotext_utils.parse_generation_parameters(
        "a cat\nNegative prompt: dog\nSteps: 7, Sampler: DPM++ 2M Karras, CFG scale: 5, Seed: 3, Size: 64x96")
    assert (params["Prompt"], params["Negative prompt"], params["Steps"]) == ("a cat", "dog", "7")
    assert (params["Sampler"], params["Schedule type"], params["Size-2"]) == ("DPM++ 2M", "Karras", "96")
    assert "Seed" not in infotext_utils.parse_generation_parameters("x\nSteps: 1, Seed: 2, CFG scale: 3", ["Seed"])
    assert infotext_utils.create_override_settings_dict(["Clip skip: 2"]) == {"CLIP_stop_at_last_layers": 2}
    field = infotext_utils.PasteField("component", "Steps", api="steps")
    assert field.component == "component" and field.target == "Steps" and field.api == "steps"
    infotext_utils.add_paste_fields("txt2img", None, [field])
    assert infotext_utils.paste_fields["txt2img"]["fields"] == [field]
    infotext_utils.reset()


def test_image_from_url_text():
    import base64
    import io

    infotext_utils = a1111("infotext_utils")
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), "red").save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert infotext_utils.image_from_url_text(url).size == (3, 2)
    assert infotext_utils.image_from_url_text([url]).size == (3, 2)
    assert infotext_utils.image_from_url_text(None) is None


def test_save_image_names_and_infotext(bound, tmp_path):
    images = a1111("images")
    folder = tmp_path / "outputs" / "mine"
    image = Image.new("RGB", (16, 16), "red")
    first, txt = images.save_image(image, str(folder), "", seed=42, prompt="a cube", info="a cube\nSteps: 3")
    second, _ = images.save_image(image, str(folder), "", seed=43, prompt="a cube", info="x")
    assert txt is None
    assert os.path.basename(first) == "00000-42.png" and os.path.basename(second) == "00001-43.png"
    assert os.path.basename(os.path.dirname(first)).count("-") == 2  # the date folder
    assert read_image_metadata(Image.open(first))[0] == "a cube\nSteps: 3"
    grid, _ = images.save_image(image, str(folder), "xyz_grid", seed=1, extension="jpg", short_filename=True,
                                grid=True, info="g")
    assert os.path.basename(grid) == "xyz_grid-0000.jpg"
    forced, _ = images.save_image(image, str(folder), "", forced_filename="exact", save_to_dirs=False)
    assert forced == str(folder / "exact.png")


def test_save_image_runs_the_save_callbacks(bound, tmp_path):
    images, script_callbacks = a1111("images"), a1111("script_callbacks")
    seen = []

    def before(params):
        params.pnginfo["parameters"] = "changed"
        params.image = Image.new("RGB", (8, 8), "blue")

    def after(params):
        seen.append(params.filename)

    script_callbacks.add_callback(script_callbacks.callback_map["callbacks_before_image_saved"], before, filename="t")
    script_callbacks.add_callback(script_callbacks.callback_map["callbacks_image_saved"], after, filename="t")
    try:
        path, _ = images.save_image(Image.new("RGB", (16, 16)), str(tmp_path), "", seed=1, info="original")
    finally:
        script_callbacks.remove_callbacks_for_function(before)
        script_callbacks.remove_callbacks_for_function(after)
    saved = Image.open(path)
    assert seen == [path] and saved.size == (8, 8) and read_image_metadata(saved)[0] == "changed"


def test_image_grid_and_tiles_roundtrip(bound):
    images = a1111("images")
    cells = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue", "white")]
    grid = images.image_grid(cells)
    assert grid.size == (64, 64)
    assert images.image_grid(cells, rows=1).size == (128, 32)
    labelled = images.draw_grid_annotations(grid, 32, 32, [[images.GridAnnotation("a")], [images.GridAnnotation("b")]],
                                            [[images.GridAnnotation("c")], [images.GridAnnotation("d")]])
    assert labelled.width > 64 and labelled.height > 64
    source = Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 160, 3), dtype=np.uint8))
    tiles = images.split_grid(source, 64, 64, 16)
    assert isinstance(tiles, images.Grid) and tiles.image_w == 160 and len(tiles.tiles[0][2]) == 3
    for _y, _h, row in tiles.tiles:
        for cell in row:
            cell[2] = cell[2].copy()  # scripts replace tiles in place
    assert np.array_equal(np.asarray(images.combine_grid(tiles)), np.asarray(source))


def test_resize_and_flatten_and_filename_helpers():
    images = a1111("images")
    assert images.resize_image(1, Image.new("RGB", (100, 50)), 64, 64).size == (64, 64)
    assert images.flatten(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "#ffffff").getpixel((0, 0)) == (255, 255, 255)
    assert images.sanitize_filename_part("a b/c") == "a_b_c"
    assert images.check_grid_size([Image.new("RGB", (8, 8))])
