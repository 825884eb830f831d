"""Small A1111 UI helpers extensions reuse: ui_extra_networks.quote_js (cards' onclick strings) and
ui_prompt_styles (the styles row's symbols and materialize_styles, which sd-webui-hires-fix-tweaks wires to its
own hires prompt boxes); the rest of ui_prompt_styles is A1111's page builder and says so."""
from __future__ import annotations

import importlib

import pytest

from modules.prompts.styles import PromptStyle
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def styled_app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("styles"), tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


def test_quote_js_escapes_for_an_attribute(styled_app):
    quote_js = importlib.import_module("modules.ui_extra_networks").quote_js  # an A1111 module, made at run time

    assert quote_js('a "b" \\ c') == '"a \\"b\\" \\\\ c"'


def test_materialize_styles_writes_the_styles_into_the_prompts(styled_app):
    from modules import ui_prompt_styles

    styles = styled_app.services.styles
    styles.set(PromptStyle("sharp", "{prompt}, sharp focus", "blurry"))
    prompt, negative, chosen = ui_prompt_styles.materialize_styles("a cat", "ugly", ["sharp"])
    assert prompt["value"] == "a cat, sharp focus" and negative["value"] == "ugly, blurry" and chosen["value"] == []
    assert ui_prompt_styles.styles_materialize_symbol == "\U0001f4cb"
    with pytest.raises(AttributeError, match="page builder"):
        _ = ui_prompt_styles.UiPromptStyles


def test_modules_ui_has_a1111s_button_symbols(styled_app):
    """sd-webui-hires-fix-tweaks builds its buttons with modules.ui.random_symbol / reuse_symbol / refresh_symbol."""
    from modules import ui

    assert (ui.refresh_symbol, ui.random_symbol, ui.reuse_symbol) == ("\U0001f504", "\U0001f3b2\ufe0f", "\u267b\ufe0f")
    assert ui.switch_values_symbol == "\u21c5" and ui.detect_image_size_symbol == "\U0001f4d0"


def test_save_files_saves_gallery_entries_like_the_save_button(styled_app, tmp_path):
    """stable-diffusion-webui-images-browser saves a browsed picture through ui_common.save_files."""
    import json

    from PIL import Image

    save_files = importlib.import_module("modules.ui_common").save_files  # an A1111 module, made at run time

    picture = Image.new("RGB", (16, 16), (200, 10, 10))
    infotext = "a red square\nSteps: 3, Sampler: Euler, Seed: 42, Size: 16x16"
    data = {"infotexts": [infotext], "index_of_first_image": 0, "width": 16, "height": 16, "sampler_name": "Euler",
            "cfg_scale": 7.0, "steps": 3, "sd_model_name": "tiny", "sd_model_hash": "abc"}
    files, message = save_files(json.dumps(data), [(picture, None)], False, 0)
    paths = files["value"]
    assert len(paths) == 1 and "Saved:" in message
    saved = Image.open(paths[0])
    assert saved.size == (16, 16) and saved.getpixel((0, 0)) == (200, 10, 10)
    log = (styled_app.paths.data_dir / styled_app.options.get("outdir_save") / "log.csv").read_text()
    assert "a red square" in log and "42" in log


def test_create_setting_component_draws_a_setting_as_the_settings_tab(styled_app):
    """sd-webui-old-sd-firstpasser puts two checkpoint dropdowns in its panel with create_setting_component."""
    import gradio as gr

    from modules import ui_settings

    with gr.Blocks():
        checkpoint = ui_settings.create_setting_component("sd_model_checkpoint")
        quality = ui_settings.create_setting_component("jpeg_quality")
    assert isinstance(checkpoint, gr.Dropdown) and checkpoint.elem_id == "setting_sd_model_checkpoint"
    assert any("tiny" in str(choice) for choice in checkpoint.choices)
    assert isinstance(quality, (gr.Slider, gr.Number)) and quality.value == styled_app.options.get("jpeg_quality")
    with pytest.raises(KeyError, match="no_such_key"):
        ui_settings.create_setting_component("no_such_key")
    with pytest.raises(AttributeError, match="page builder"):
        _ = ui_settings.create_ui


def test_create_output_panel_builds_a1111s_output_components(styled_app):
    """sd-webui-supermerger imports it from modules.ui and reads the parts by name or by position."""
    import gradio as gr

    from modules.ui import create_output_panel

    with gr.Blocks():
        panel = create_output_panel("merger", "outputs")
    assert isinstance(panel.gallery, gr.Gallery) and panel.gallery.elem_id == "merger_gallery"
    assert panel[1] is panel.generation_info and panel.generation_info.elem_id == "generation_info_merger"
    assert isinstance(panel.infotext, gr.HTML) and isinstance(panel[3], gr.HTML) and panel.button_upscale is None
