"""The hook recorder's remaining hooks and callbacks: before_hr in a hires run, and the page-side callbacks
(before_ui, components, token counter, infotext paste, image grid, script unloaded)."""
from __future__ import annotations

from fastapi.testclient import TestClient

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of


def test_before_hr_runs_between_the_passes(recorder_app):
    module = module_of(recorder_app.scripts, "Hook recorder")
    module.CALLS.clear()
    recorder_app.txt2img(GenerationRequest(prompt="p", steps=2, width=64, height=64, enable_hr=True, hr_scale=1.5,
                                           alwayson_scripts={"hook recorder": {"args": [True, ""]}}))
    calls = module.CALLS
    assert calls.index("process_before_every_sampling") < calls.index("before_hr") < calls.index("post_sample")
    assert "extra_noise" not in calls  # the setting is 0: no extra noise, no callback (A1111's rule)


def test_extra_noise_callback_runs_before_the_hires_pass_samples(recorder_app):
    module = module_of(recorder_app.scripts, "Hook recorder")
    module.CALLS.clear()
    result = recorder_app.txt2img(GenerationRequest(
        prompt="p", steps=2, width=64, height=64, enable_hr=True, hr_scale=1.5,
        override_settings={"img2img_extra_noise": 0.3}, alwayson_scripts={"hook recorder": {"args": [True, ""]}}))
    calls = module.CALLS
    assert calls.index("before_hr") < calls.index("extra_noise") < calls.index("post_sample")
    assert "Extra noise: 0.3" in result.infotexts[0]


def test_page_side_callbacks(recorder_app):
    import webui
    from modules.extensions.compat import images
    from modules.ui.layout import build_ui
    from modules.ui.paste_wiring import updates_for
    from modules.ui.prompt_row import token_counter

    module = module_of(recorder_app.scripts, "Hook recorder")
    module.CALLS.clear()
    blocks = build_ui(recorder_app)
    assert module.CALLS[:1] == ["before_ui"]
    assert module.COMPONENTS["before"] > 50 and module.COMPONENTS["after"] == module.COMPONENTS["before"]
    ctx = blocks.easel_context
    token_counter(ctx, "a cat", 20, True)
    assert "before_token_counter" in module.CALLS
    pairs = ctx.shared["txt2img_paste_extra"]
    updates = updates_for(ctx, [], "a cat\nSteps: 3, Seed: 1", pairs)
    assert "infotext_pasted" in module.CALLS
    assert updates[-1]["value"] == "from paste"  # the callback's key filled the script's own paste field
    from PIL import Image

    images.image_grid([Image.new("RGB", (8, 8))] * 4, rows=2)
    assert "image_grid" in module.CALLS
    with TestClient(webui.create_server(recorder_app)):
        pass
    assert module.CALLS[-1] == "script_unloaded"
