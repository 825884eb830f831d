"""A1111 extensions read the settings file themselves (stable-diffusion-webui-state serves
`shared.cmd_opts.ui_settings_file` with FileResponse): with extensions enabled it exists on a fresh data dir,
holding no values, so every setting keeps its default and none is written down as chosen."""
from __future__ import annotations

import json
import textwrap

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

SCRIPT = '''
import json
from modules import script_callbacks, shared

SEEN = []


def serve(demo, app):
    from fastapi.responses import FileResponse

    app.add_api_route("/state/config.json", lambda: FileResponse(shared.cmd_opts.ui_settings_file), methods=["GET"])


SEEN.append(shared.cmd_opts.ui_settings_file)
script_callbacks.on_app_started(serve)
'''


def test_a_fresh_data_dir_gets_an_empty_settings_file_extensions_can_serve(tmp_path, tiny_checkpoint):
    folder = tmp_path / "state_like"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "state_api.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")  # its built-in extensions start with it
    config = app.paths.config_json
    try:
        assert json.loads(config.read_text(encoding="utf-8")) == {}
        config.unlink()
        host = start(app, [("state_like", folder)])
        assert json.loads(config.read_text(encoding="utf-8")) == {}
        api = FastAPI()
        host.app_started(None, api)
        answer = TestClient(api).get("/state/config.json")
        assert answer.status_code == 200 and answer.json() == {}
        assert app.options.get("jpeg_quality") == 80  # defaults stay defaults
    finally:
        app.jobs.close()
        stop(app)


def test_an_existing_settings_file_is_left_as_it_is(tmp_path):
    from modules.extensions.compat.startup import ensure_settings_file

    path = tmp_path / "config.json"
    path.write_text('{"jpeg_quality": 90}', encoding="utf-8")
    assert ensure_settings_file(path) is False
    assert json.loads(path.read_text(encoding="utf-8")) == {"jpeg_quality": 90}
    fresh = tmp_path / "new" / "config.json"
    assert ensure_settings_file(fresh) is True and json.loads(fresh.read_text(encoding="utf-8")) == {}


UI_CONFIG_READER = '''
import json
from modules import scripts, shared

with open(shared.cmd_opts.ui_config_file, "r", encoding="utf-8") as f:  # at import, as sd-webui-negpip does
    UI_CONFIG = json.load(f)


class Script(scripts.Script):
    def title(self):
        return "ui-config reader"

    def show(self, is_img2img):
        return scripts.AlwaysVisible
'''


def test_a_script_reading_ui_config_at_import_finds_it_on_a_fresh_data_dir(tmp_path, tiny_checkpoint):
    folder = tmp_path / "reader"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "reader.py").write_text(textwrap.dedent(UI_CONFIG_READER), encoding="utf-8")
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    try:
        app.paths.ui_config_json.unlink(missing_ok=True)
        host = start(app, [("reader", folder)])
        assert "ui-config reader" in host.all_titles()
        assert json.loads(app.paths.ui_config_json.read_text(encoding="utf-8")) == {}
    finally:
        app.jobs.close()
        stop(app)
