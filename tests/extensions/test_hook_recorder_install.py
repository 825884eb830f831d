"""The hook-recorder fixture extension, installed from a file:// git URL through the Extensions tab's code path,
then loaded at the next start: its hooks run in A1111's order, its setting, tab, route, flag and JS appear."""
from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from modules.pipeline.request import GenerationRequest
from tests.extensions import git, url
from tests.extensions.conftest import FIXTURES, module_of, stop
from tests.pipeline.conftest import make_app

PER_BATCH = ["after_extra_networks_activate", "process_batch", "process_before_every_sampling", "cfg_denoiser",
             "cfg_denoised", "cfg_after_cfg", "post_sample", "postprocess_batch", "postprocess_batch_list",
             "postprocess_image", "postprocess_maskoverlay", "before_image_saved", "image_saved"]


def test_installed_from_git_url_and_loaded_at_next_start(tmp_path, tiny_checkpoint):
    source = tmp_path / "src" / "sd-webui-hook-recorder"
    shutil.copytree(FIXTURES / "hook_recorder", source)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "hook recorder")
    first = make_app(tmp_path / "data", tiny_checkpoint)
    outcome = first.extensions.install(url(source))
    assert outcome.ok and outcome.name == "sd-webui-hook-recorder"
    assert "hook recorder installed" in outcome.installer.output  # its install.py ran, launch imported
    stop(first)

    import webui

    app = make_app(tmp_path / "data", tiny_checkpoint)  # a restart: scripts load at start
    try:
        flags = webui.parse_flags(["--data-dir", str(tmp_path / "data"), "--hook-recorder-verbose"])
        assert flags.hook_recorder_verbose is True  # its preload.py added the flag before parsing
        module = module_of(app.scripts, "Hook recorder")
        module.CALLS.clear()
        result = app.txt2img(GenerationRequest(prompt="p", steps=2, width=64, height=64, save_images=True,
                                               alwayson_scripts={"hook recorder": {"args": [True, ""]}}))
        calls = module.CALLS
        assert calls == ["setup", "before_process", "model_loaded", "process", "before_process_batch:0", *PER_BATCH,
                         "postprocess"]
        assert "Recorder: on" in result.infotexts[0]
        assert "hook_recorder_flag" in app.options.table
        client = TestClient(webui.create_server(app))
        assert "postprocess" in client.get("/hook-recorder/calls").json()["calls"]  # its route answers
        page = client.get("/").text
        assert "recorder.js" in page and "sd-webui-hook-recorder" in page
        assert "tab_hook_recorder_tab" in page  # its on_ui_tabs tab (in the page's config)
    finally:
        stop(app)
