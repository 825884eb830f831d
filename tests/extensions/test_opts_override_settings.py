"""A request's override_settings are what `shared.opts` reads while its `process_images` runs (A1111 set them on
its global opts for that call and put the old values back after): sd-dynamic-prompts reads its own settings
(`dp_write_raw_template`, its variant brackets) in `process`. Outside the run the stored value is read again."""
from __future__ import annotations

import textwrap

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import module_of, start, stop
from tests.pipeline.conftest import make_app

PROBE = '''
from modules import script_callbacks, scripts, shared

SEEN = []


def settings():
    shared.opts.add_option("probe_flag", shared.OptionInfo(False, "a probe's own setting", section=("probe", "Probe")))


script_callbacks.on_ui_settings(settings)


class Script(scripts.Script):
    def title(self):
        return "opts probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        SEEN.append((shared.opts.probe_flag, shared.opts.jpeg_quality))
'''


def test_override_settings_are_what_opts_reads_during_the_run(tmp_path, tiny_checkpoint):
    folder = tmp_path / "probe"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    try:
        host = start(app, [("probe", folder)])
        seen = module_of(host, "opts probe").SEEN
        request = dict(prompt="a red circle", steps=1, width=64, height=64, seed=1)
        app.txt2img(GenerationRequest(**request, override_settings={"probe_flag": True, "jpeg_quality": 55}))
        app.txt2img(GenerationRequest(**request))
        assert seen == [(True, 55), (False, 80)]
        from modules import shared

        assert shared.opts.probe_flag is False and app.options.get("probe_flag") is False
    finally:
        app.jobs.close()
        stop(app)
