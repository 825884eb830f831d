"""A Script method one letter off an A1111 hook never runs; loading the extension says so, naming the extension,
the file, the method and the hook (modules/extensions/compat/hook_spelling.py)."""
from __future__ import annotations

import logging

from modules.extensions.compat.loader import ExtensionFolder, load_extension_scripts

SCRIPT = '''
import modules.scripts as scripts


class Frame(scripts.Script):
    def title(self):
        return "Frame"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def proccess(self, p, *args):  # meant: process
        p.extra_generation_params["Frame"] = 1

    def postprocess_image(self, p, pp, *args):
        pass

    def frame_width(self):  # a helper of its own: no hook is near this name
        return 4
'''


def test_a_misspelled_hook_is_reported_with_the_hook_it_meant(bound, tmp_path, caplog):
    folder = tmp_path / "sd-webui-frame"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "frame.py").write_text(SCRIPT)
    with caplog.at_level(logging.WARNING, logger="easel.extensions"):
        load_extension_scripts([ExtensionFolder("sd-webui-frame", folder)])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["extension sd-webui-frame: scripts/frame.py: Frame.proccess is no Script hook, so it never "
                        "runs; did you mean process?"]


def test_the_extensions_tab_shows_it_as_the_extensions_problem(tmp_path, tiny_checkpoint):
    from tests.extensions.conftest import stop
    from tests.pipeline.conftest import make_app

    folder = tmp_path / "extensions" / "sd-webui-frame"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "frame.py").write_text(SCRIPT)
    app = make_app(tmp_path, tiny_checkpoint)
    try:
        [problem] = app.extensions.get("sd-webui-frame").problems
        assert "Frame.proccess is no Script hook" in problem and "did you mean process?" in problem
    finally:
        app.jobs.close()
        stop(app)
