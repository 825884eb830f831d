"""Extension scripts in the page: panels, the Script dropdown, tabs, component callbacks and paste fields."""
from __future__ import annotations

from fastapi.testclient import TestClient

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of


def elem_ids(blocks) -> dict:
    return {b.elem_id: b for b in blocks.blocks.values() if getattr(b, "elem_id", None)}


def test_scripts_tabs_and_settings_appear_in_the_page(recorder_app):
    from modules.ui.layout import build_ui

    blocks = build_ui(recorder_app)
    ids = elem_ids(blocks)
    assert "script_txt2img_hook_recorder_enabled" in ids and "script_img2img_hook_recorder_enabled" in ids
    assert ids["script_list"].choices == [("None", "None"), ("Recorder twice", "Recorder twice")]
    assert "tab_hook_recorder_tab" in ids and "hook_recorder_markdown" in ids
    assert "setting_hook_recorder_flag" in ids
    section = blocks.easel_context.shared["txt2img_scripts"]
    values = [c.value for c in section.inputs]
    values[0] = "Recorder twice"
    fields = section.request_fields(values)
    assert fields["script_name"] == "Recorder twice" and fields["script_args"] == (2,)
    assert fields["alwayson_scripts"] == {"Hook recorder": {"args": [False, ""]}}
    request = GenerationRequest(prompt="x", steps=2, width=64, height=64, **fields)
    assert len(recorder_app.txt2img(request).images) == 2


def test_component_callbacks_see_every_component_by_elem_id(recorder_app):
    from modules.extensions.compat import script_callbacks
    from modules.ui.layout import build_ui

    seen = []
    script_callbacks.on_after_component(lambda component, **kw: seen.append(kw.get("elem_id")))
    runner = recorder_app.scripts.runners["txt2img"]
    script = runner.find("Hook recorder")
    script.on_after_component(lambda c: seen.append(("script saw", c.component.elem_id)), elem_id="txt2img_prompt")
    build_ui(recorder_app)
    assert "txt2img_prompt" in seen and "txt2img_generate" in seen and "img2img_prompt" in seen
    assert ("script saw", "txt2img_prompt") in seen


def test_app_started_routes_and_extension_assets_are_served(recorder_app):
    import webui

    client = TestClient(webui.create_server(recorder_app))
    module_of(recorder_app.scripts, "Hook recorder").CALLS[:] = ["x"]
    assert client.get("/hook-recorder/calls").json() == {"calls": ["x"]}
    page = client.get("/").text
    assert "recorder.js" in page
    scripts = client.get("/sdapi/v1/scripts").json()
    assert scripts == {"txt2img": ["hook recorder", "recorder twice"], "img2img": ["hook recorder", "recorder twice"]}
    info = {(r["name"], r["is_img2img"]): r for r in client.get("/sdapi/v1/script-info").json()}
    assert info[("recorder twice", False)]["args"][0]["label"] == "Times"
    assert [a["label"] for a in info[("hook recorder", True)]["args"]] == ["Record hooks", "Prompt suffix"]


def test_api_runs_scripts_and_refuses_unknown_ones(recorder_app):
    import webui

    client = TestClient(webui.create_server(recorder_app))
    body = {"prompt": "a", "steps": 2, "width": 64, "height": 64, "seed": 3}
    result = client.post("/sdapi/v1/txt2img", json={**body, "script_name": "recorder twice", "script_args": [2]})
    assert result.status_code == 200 and len(result.json()["images"]) == 2
    on = client.post("/sdapi/v1/txt2img", json={**body, "alwayson_scripts": {"hook recorder": {"args": [True, "hat"]}}})
    assert "Recorder suffix: hat" in on.json()["info"]
    bad = client.post("/sdapi/v1/txt2img", json={**body, "script_name": "nope"})
    assert bad.status_code == 422 and "Recorder twice" in bad.text
    bad = client.post("/sdapi/v1/txt2img", json={**body, "alwayson_scripts": {"recorder twice": {"args": []}}})
    assert bad.status_code == 422 and "always-on" in bad.text


def test_token_counter_and_unload_callbacks(recorder_app):
    import webui
    from modules.extensions.compat import script_callbacks
    from modules.ui.context import UiConfig, UiContext
    from modules.ui.prompt_row import token_counter

    def expand(params):
        params.prompt = params.prompt.replace("__colour__", "red, green, blue, yellow")

    script_callbacks.on_before_token_counter(expand)
    ctx = UiContext(app=recorder_app, ui_config=UiConfig(None))
    assert token_counter(ctx, "__colour__", 20, True).count("7/75") == 1  # 4 words and 3 commas
    unloaded = []
    script_callbacks.on_script_unloaded(lambda: unloaded.append(True))
    with TestClient(webui.create_server(recorder_app)):
        pass
    assert unloaded == [True]
