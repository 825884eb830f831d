"""The page as data: built over a tiny App, with A1111's element ids, registered fields, assets and settings."""
from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin

from modules.ui import assets
from modules.ui.browser_state import restore
from modules.ui.context import UiConfig, UiContext
from modules.ui.pnginfo_tab import read_file
from modules.ui.prompt_row import token_counter
from modules.ui.settings_tab import apply_changes, sections
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_checkpoint):
    from modules.ui.layout import build_ui

    data = tmp_path_factory.mktemp("ui-data")
    (data / "ui-config.json").write_text(json.dumps({"txt2img/Sampling steps/value": 33,
                                                     "txt2img/Sampling method/value": "No such sampler"}))
    app = make_app(data, tiny_checkpoint)
    return app, build_ui(app)


def elem_ids(blocks) -> set[str]:
    return {b.elem_id for b in blocks.blocks.values() if getattr(b, "elem_id", None)}


def test_page_has_the_a1111_ids_extensions_look_for(built):
    _, blocks = built
    ids = elem_ids(blocks)
    for tab in ("txt2img", "img2img"):
        for name in ("prompt", "neg_prompt", "width", "height", "steps", "cfg_scale", "seed", "generate", "gallery",
                     "sampling", "batch_count", "batch_size", "subseed", "interrupt", "skip", "styles",
                     "results_panel", "gallery_container"):
            assert f"{tab}_{name}" in ids, f"{tab}_{name}"
    for other in ("img2maskimg", "img2maskimg_mask", "inpaint_controls", "img_inpaint_base", "img_inpaint_mask",
                  "quicksettings", "setting_sd_model_checkpoint", "setting_sd_vae", "html_info_txt2img",
                  "pnginfo_image", "settings_submit", "extras_image",
                  "outpaint_image", "txt2img_hr", "txt2img_paste", "txt2img_generation_info_button",
                  "img2img_generation_info_button", "save_txt2img", "save_zip_txt2img", "download_files_txt2img",
                  "footer"):
        assert other in ids, other


def test_fields_are_registered_under_request_names_with_ui_config_defaults(built):
    _, blocks = built
    ctx: UiContext = blocks.easel_context
    fields = ctx.tab_fields("txt2img")
    for name in ("prompt", "negative_prompt", "steps", "sampler_name", "scheduler", "cfg_scale", "seed", "width",
                 "height", "enable_hr", "hr_scale", "subseed", "subseed_strength", "styles"):
        assert name in fields, name
    assert fields["steps"].value == 33  # from ui-config.json
    assert fields["sampler_name"].value == "DPM++ 2M"  # an invalid stored default is ignored
    assert {"mask_blur", "inpainting_fill", "inpaint_full_res", "denoising_strength"} <= set(ctx.tab_fields("img2img"))


def test_ui_config_save_writes_a1111_keys(tmp_path):
    config = UiConfig(tmp_path / "ui-config.json")
    config.save({"txt2img/Sampling steps": 40})
    assert json.loads((tmp_path / "ui-config.json").read_text()) == {"txt2img/Sampling steps/value": 40}
    assert UiConfig(tmp_path / "ui-config.json").default("txt2img/Sampling steps", 20) == 40


def test_settings_apply_reports_changes_and_refuses_bad_values(built):
    app, _ = built
    assert "Sampler parameters" in sections(app.options.table)
    assert apply_changes(app.options, ["eta_ddim", "s_noise"], [0.25, 1.0]) == "1 setting changed: eta_ddim."
    assert apply_changes(app.options, ["eta_ddim"], [0.25]) == "Nothing changed."
    assert "Restart" in apply_changes(app.options, ["quicksettings_list"], [["sd_vae"]])
    assert apply_changes(app.options, ["quicksettings_list"], [["sd_vae"]]) == "Nothing changed."
    with pytest.raises(Exception, match="randn_source"):
        apply_changes(app.options, ["randn_source"], ["Quantum"])
    assert json.loads(app.paths.config_json.read_text())["eta_ddim"] == 0.25


def test_token_counter_counts_like_a1111(built):
    _, blocks = built
    ctx = blocks.easel_context
    assert ">2/75<" in token_counter(ctx, "a cat", 20, True)
    assert "/150<" in token_counter(ctx, "word " * 80, 20, True)
    assert ">0/75<" in token_counter(ctx, None, 20, False)
    assert ">2/75<" in token_counter(ctx, "a cat # comments are not counted", 20, True)


def test_paste_follows_the_infotext_settings(built):
    """The paste button reads an infotext as A1111's Infotext settings say: the style in the prompt is selected
    and peeled off, and a disregarded field keeps its value."""
    from modules.prompts.styles import PromptStyle
    from modules.ui.paste_wiring import paste_targets, updates_for

    app, blocks = built
    ctx = blocks.easel_context
    ctx.styles.set(PromptStyle("Shiny", "{prompt}, shiny", ""))
    names, _ = paste_targets(ctx, "txt2img")
    app.options.set("infotext_skip_pasting", ("Seed",), save=False)
    try:
        updates = updates_for(ctx, names, "a ball, shiny\nSteps: 3, Sampler: Euler, Seed: 42, Size: 64x64")
    finally:
        app.options.set("infotext_skip_pasting", (), save=False)
    values = {n: u["value"] for n, u in zip(names, updates) if "value" in u}
    assert (values["prompt"], values["styles"], values["steps"]) == ("a ball", ["Shiny"], 3)
    assert "seed" not in values


def test_paste_fills_the_override_settings_box_with_what_no_field_shows(built):
    """A1111's Override settings box: the infotext's settings that differ from the current ones and that no field
    of the page shows; hidden when there are none. Its entries become the job's override_settings."""
    from modules.pipeline.request import GenerationRequest
    from modules.ui.paste_wiring import paste_targets, updates_for
    from modules.ui.requests import build_request

    _, blocks = built
    ctx = blocks.easel_context
    names, _ = paste_targets(ctx, "txt2img")
    text = "a ball\nSteps: 3, Sampler: Euler, Seed: 4, Size: 64x64, Clip skip: 2, Eta: 0.5, RNG: GPU, " \
           "Token merging ratio: 0.3"
    updates = dict(zip(names, updates_for(ctx, names, text)))
    box = updates["override_settings"]
    assert box["value"] == box["choices"] == ["Eta: 0.5", "Token merging ratio: 0.3"] and box["visible"] is True
    assert updates["CLIP_stop_at_last_layers"]["value"] == 2  # the top bar shows clip skip: not in the box
    plain = dict(zip(names, updates_for(ctx, names, "a ball\nSteps: 3, Seed: 4, Size: 64x64, RNG: GPU")))
    assert plain["override_settings"]["visible"] is False
    request = build_request(GenerationRequest, {"prompt": "a", "override_settings": box["value"]})
    assert request.override_settings == {"eta_ancestral": 0.5, "token_merging_ratio": 0.3}


def test_a_scripts_paste_function_may_return_an_update():
    """A1111's X/Y/Z plot pastes `gr.update(...)` into its dropdowns: passed on as it is (wrapped as a value, the
    dropdowns held an update dict and the next generation failed)."""
    import gradio as gr

    from modules.ui.paste_wiring import extra_updates

    pairs = [(None, lambda p: gr.update(value=[], visible=False)), (None, "Seed"), (None, lambda p: None)]
    assert extra_updates(pairs, {"Seed": "5"}) == [gr.update(value=[], visible=False), gr.update(value="5"),
                                                   gr.update()]


def test_pnginfo_reads_chunks_and_refuses_non_images(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler, Seed: 3")
    Image.new("RGB", (4, 4)).save(tmp_path / "cat.png", pnginfo=info)
    page, text, _ = read_file(str(tmp_path / "cat.png"))
    assert text.startswith("a cat") and "<td>Sampler</td><td>Euler</td>" in page
    (tmp_path / "bad.png").write_bytes(b"nope")
    page, text, _ = read_file(str(tmp_path / "bad.png"))
    assert "class='error'" in page and "bad.png" in page and text == ""


def test_browser_state_restores_only_what_was_saved():
    updates = restore(["a", "b"], {"b": 5})
    assert updates[0] == {"__type__": "update"} and updates[1]["value"] == 5


def test_assets_serve_core_and_extension_files_only(tmp_path):
    from modules.paths import Paths

    install, data = tmp_path / "install", tmp_path / "data"
    (install / "javascript").mkdir(parents=True)
    (install / "javascript" / "core.js").write_text("// core")
    (install / "style.css").write_text("body {}")
    ext = data / "extensions" / "my-ext"
    (ext / "javascript").mkdir(parents=True)
    (ext / "javascript" / "ext.js").write_text("// ext")
    (ext / "style.css").write_text(".x {}")
    paths = Paths(data_dir=data, install_dir=install)
    table = assets.asset_table(paths)
    assert [f.name for f in table.values()] == ["core.js", "ext.js", "style.css", "style.css"]
    assert assets.asset_table(paths, disabled_extensions=True).keys() == {"0/core.js", "1/style.css"}
    server = FastAPI()
    assets.mount(server, table)
    client = TestClient(server)
    head = assets.head_html(table)
    first = head.split('src="')[1].split('"')[0]
    assert client.get(first).text == "// core"
    assert client.get(assets.ASSET_ROUTE + "/0/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get(assets.ASSET_ROUTE + "/9/core.js").status_code == 404


def test_quicksettings_show_the_current_values_at_each_page_load(built):
    from modules.ui.top_bar import current_values

    app, blocks = built
    ctx: UiContext = blocks.easel_context
    fields = ctx.shared["quicksettings_fields"]
    assert [key for key, _ in fields] == ["sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"]
    loads = [f for f in blocks.fns.values() if any(event == "load" for _, event in f.targets)]
    outputs = {o._id for f in loads for o in f.outputs}
    assert all(component._id in outputs for _, component in fields)  # a page load refreshes every one of them
    before = app.options.get("CLIP_stop_at_last_layers")
    try:
        app.options.set("CLIP_stop_at_last_layers", 2)  # by the API or another page, after the page was built
        updates = dict(zip([key for key, _ in fields], current_values(ctx, fields)))
        assert updates["CLIP_stop_at_last_layers"]["value"] == 2
        # unchanged since the page was built: no value sent (a late answer must not undo the user's own choice)
        assert "value" not in updates["sd_vae"] and "value" not in updates["sd_model_checkpoint"]
        assert any(title.startswith("tiny") for title in updates["sd_model_checkpoint"]["choices"])
    finally:
        app.options.set("CLIP_stop_at_last_layers", before)


def test_model_notice_says_when_the_builtin_model_is_in_use():
    from types import SimpleNamespace

    from modules.ui.top_bar import NO_MODEL_HINT, model_notice

    first_run = SimpleNamespace(models=SimpleNamespace(builtin_note=lambda: "using Easel's built-in model"))
    own = SimpleNamespace(models=SimpleNamespace(builtin_note=lambda: None))
    assert model_notice(first_run, ["easel-builtin.safetensors [abc]"]) == "using Easel's built-in model"
    assert model_notice(own, ["mine.safetensors", "easel-builtin.safetensors"]) == ""
    assert model_notice(own, []) == NO_MODEL_HINT


def test_a_vanished_selected_checkpoint_gives_way_to_the_first_listed(built):
    from modules.ui.top_bar import checkpoint_titles, shown_title

    app, _ = built
    before = app.options.get("sd_model_checkpoint")
    titles = checkpoint_titles(app)
    try:
        app.options.set("sd_model_checkpoint", "deleted-meanwhile.safetensors")
        assert shown_title(app, titles) == titles[0] == app.options.get("sd_model_checkpoint")
        app.options.set("sd_model_checkpoint", titles[-1])
        assert shown_title(app, titles) == titles[-1] == app.options.get("sd_model_checkpoint")  # left alone
    finally:
        app.options.set("sd_model_checkpoint", before)


def test_footer_carries_a1111_versions_line(built):
    _, blocks = built
    [footer] = [b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "footer"]
    text = footer.value
    assert "class='versions'" in text and "gradio: " in text and 'id="sd_checkpoint_hash"' in text


def test_save_buttons_are_titled_with_the_save_folder(built):
    app, blocks = built
    configs = {b.elem_id: b.get_config() for b in blocks.blocks.values() if getattr(b, "elem_id", None)}
    folder = app.options.get("outdir_save")
    for tab in ("txt2img", "img2img"):
        assert configs[f"save_{tab}"]["webui_tooltip"] == f"Save the image to a dedicated directory ({folder})."
        assert configs[f"save_zip_{tab}"]["webui_tooltip"] == ("Save zip archive with images to a dedicated "
                                                              f"directory ({folder})")


def test_closed_accordions_reach_the_page_with_their_contents(built):
    """Gradio's page leaves out a closed accordion's contents only for `open` exactly false: with a user extension the
    page gets 0 (closed all the same), so scripts find the elements inside at load, as in A1111 (javascript/easel.js);
    without one, closed accordions stay false (the page is usable sooner)."""
    from modules.ui.layout import contents_at_load

    _, blocks = built

    def accordions():
        return {c["props"].get("elem_id"): c["props"]["open"] for c in blocks.get_config_file()["components"]
                if c["type"] == "accordion"}

    assert accordions()["txt2img_hr"] is False  # this App has no user extension
    contents_at_load(blocks)  # what build_ui does when one is enabled
    assert accordions()["txt2img_hr"] == 0 and accordions()["txt2img_hr"] is not False
    assert all(value is not False for value in accordions().values())


def test_an_extension_option_built_with_radio_is_radio_buttons_in_settings():
    """A1111 showed an option declared with gr.Radio as radio buttons; scripts read the chosen one
    (sd-webui-moar-generate: `#setting_moar_generate label.selected`)."""
    import gradio as gr

    from modules.extensions.compat.options_view import OptionInfo, setting_of
    from modules.ui.setting_components import component_for

    radio = setting_of("x_place", OptionInfo("Off", "Place", gr.Radio, {"choices": ("Off", "Bottom")}))
    dropdown = setting_of("x_mode", OptionInfo("Off", "Mode", gr.Dropdown, {"choices": ("Off", "Bottom")}))
    with gr.Blocks():
        shown = component_for(radio, "Bottom")
        listed = component_for(dropdown, "Off")
    assert isinstance(shown, gr.Radio) and shown.elem_id == "setting_x_place" and shown.value == "Bottom"
    assert type(listed) is gr.Dropdown


def test_css_variables_extensions_set_on_gradio_theme_reach_the_page(built):
    """sd-webui-input-accordion-highlight sets colours on A1111's shared.gradio_theme for its style.css."""
    from modules.extensions.compat import shared
    from modules.extensions.compat.host import ScriptHost
    from modules.ui.layout import mount_kwargs

    app, _ = built
    previous = app.scripts
    shared.gradio_theme.easel_test_highlight = "#123456"
    app.scripts = ScriptHost(app)
    try:
        css = mount_kwargs(app, FastAPI())["theme"]._get_theme_css()
    finally:
        app.scripts = previous
        del shared.gradio_theme.easel_test_highlight
    assert "--easel-test-highlight: #123456" in css


def test_a_tabs_holding_no_tab_reaches_the_page_as_a_column():
    """Gradio 3 drew it as a column; Gradio's page fails on it, and at load that would stop the whole page."""
    import gradio as gr

    from modules.ui.layout import contents_at_load

    with gr.Blocks() as blocks:
        with gr.Tabs():
            with gr.Row():
                gr.Textbox(elem_id="inside")
        with gr.Tabs():
            with gr.Tab("A"):
                gr.Textbox()
        contents_at_load(blocks)
    kinds = [(c["type"], c["component_class_id"]) for c in blocks.config["components"] if c["type"] in
             ("tabs", "column")]
    assert kinds == [("column", gr.Column.get_component_class_id()), ("tabs", gr.Tabs.get_component_class_id())]
