"""Scripts and hooks around the core pipeline, through A1111's `p`, on the tiny model."""
from __future__ import annotations

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of

BASE = dict(prompt="a red circle", steps=3, width=64, height=64, seed=7)


def test_alwayson_hooks_run_in_a1111_order_and_change_the_generation(recorder_app):
    module = module_of(recorder_app.scripts, "Hook recorder")
    calls = module.CALLS
    calls.clear()
    recorder_app.options.set("hook_recorder_flag", True)  # the extension's setting: it marks saved PNGs
    req = GenerationRequest(**BASE, n_iter=2, save_images=True,
                            alwayson_scripts={"Hook recorder": {"args": [True, "with a hat"]}})
    result = recorder_app.txt2img(req)
    assert result.all_prompts == ["a red circle with a hat"] * 2
    assert "Recorder: on" in result.infotexts[0] and "Recorder suffix: with a hat" in result.infotexts[0]
    per_batch = ["after_extra_networks_activate", "process_batch", "process_before_every_sampling", "cfg_denoiser",
                 "cfg_denoised", "cfg_after_cfg", "post_sample", "postprocess_batch", "postprocess_batch_list",
                 "postprocess_image", "postprocess_maskoverlay", "before_image_saved", "image_saved"]
    assert calls == ["setup", "before_process", "model_loaded", "process",
                     "before_process_batch:0", *per_batch, "before_process_batch:1", *per_batch, "postprocess"]
    assert module.STEP_COUNTS == {"cfg_denoiser": 6, "cfg_denoised": 6, "cfg_after_cfg": 6}  # 3 steps × 2 batches
    assert "Saved by: recorder" in result.saved_paths[0].read_bytes().decode("latin-1")


def test_hooks_are_off_when_the_script_is_not_enabled(recorder_app):
    calls = module_of(recorder_app.scripts, "Hook recorder").CALLS
    calls.clear()
    result = recorder_app.txt2img(GenerationRequest(**BASE))
    assert result.all_prompts == ["a red circle"]
    assert "Recorder" not in result.infotexts[0]


def test_selectable_script_runs_process_images_itself(recorder_app):
    result = recorder_app.txt2img(GenerationRequest(**BASE, script_name="recorder twice", script_args=[3]))
    assert len(result.images) == 3 and list(result.all_seeds) == [102]
    assert ["Seed: 100" in result.infotexts[0], "Seed: 101" in result.infotexts[1]] == [True, True]


def test_extension_settings_are_registered(recorder_app):
    assert recorder_app.options.table["hook_recorder_flag"].section == "Hook recorder"
    from modules import shared  # the alias the extension imported

    assert shared.opts.hook_recorder_flag is False
    shared.opts.hook_recorder_flag = True
    assert recorder_app.options.get("hook_recorder_flag") is True


def test_a1111_settings_easel_lacks_read_their_defaults_and_can_be_stored(recorder_app):
    import json

    from modules import shared
    from modules.ui.settings_tab import sections

    assert shared.opts.grid_background_color == "#ffffff" and shared.opts.return_grid is True
    shared.opts.font = "DejaVuSans.ttf"
    assert shared.opts.font == "DejaVuSans.ttf"
    assert json.loads(recorder_app.paths.config_json.read_text())["font"] == "DejaVuSans.ttf"
    assert all(s.key != "font" for rows in sections(recorder_app.options.table).values() for s in rows)
