"""Two Apps in one process, each with extensions loaded: a job of the older App runs through its own script host,
and A1111's globals (shared.opts, process_images) answer for that App while its job runs."""
from __future__ import annotations

import shutil

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import FIXTURES, start, stop
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", steps=2, width=64, height=64, seed=7)


def _app_with_recorder(folder, checkpoint):
    app = make_app(folder, checkpoint)
    extension = folder / "extensions" / "hook_recorder"
    shutil.copytree(FIXTURES / "hook_recorder", extension)
    start(app, [("hook_recorder", extension)])
    return app


def test_an_older_apps_job_runs_through_its_own_host_and_options(tmp_path, tiny_checkpoint):
    older = _app_with_recorder(tmp_path / "older", tiny_checkpoint)
    newer = _app_with_recorder(tmp_path / "newer", tiny_checkpoint)  # bound last: the process-wide answer
    try:
        older.options.set("hook_recorder_flag", True)  # the recorder marks saved PNGs when its setting is on
        newer.options.set("hook_recorder_flag", False)
        through_newer = []
        newer.scripts.process_images = lambda p: through_newer.append(p)  # noqa: the newer host must stay idle
        result = older.txt2img(GenerationRequest(**BASE, save_images=True,
                                                 alwayson_scripts={"Hook recorder": {"args": [True, "hat"]}}))
        assert through_newer == []
        assert result.all_prompts == ["a red circle hat"]
        assert "Saved by: recorder" in result.saved_paths[0].read_bytes().decode("latin-1")
        assert str(result.saved_paths[0]).startswith(str(tmp_path / "older"))

        from modules.extensions.compat import binding

        assert binding.app() is newer  # outside a job, the last App bound answers as before
    finally:
        older.jobs.close()
        newer.jobs.close()
        stop(newer)
