"""What an always-on script finds on `p` in `before_process`, as on A1111: `p.is_api` says whether the job came
through the HTTP API (sd-webui-animatediff reads its arguments from `p.script_args` only then), and `p.sd_model` is
the loaded model (A1111's is `shared.sd_model`, loaded at start; Easel loads the job's checkpoint for it when no
model is loaded yet), so a script that reaches into the model there does not find None."""
from __future__ import annotations

import json

from modules.pipeline.request import GenerationRequest
from tests.api.conftest import TINY, make_client
from tests.extensions.conftest import stop

PROBE = '''
import modules.scripts as scripts


class ProbeOfP(scripts.Script):
    def title(self):
        return "probe of p"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def before_process(self, p, *args):
        model = p.sd_model.sd_checkpoint_info.model_name if p.sd_model is not None else "none"
        p.extra_generation_params["Probe"] = f"api={p.is_api} model={model}"
'''


def test_is_api_and_the_loaded_model_in_before_process(tmp_path, tiny_checkpoint):
    folder = tmp_path / "extensions" / "probe-of-p" / "scripts"
    folder.mkdir(parents=True)
    (folder / "probe_of_p.py").write_text(PROBE)
    try:
        with make_client(tmp_path, tiny_checkpoint) as client:
            answer = client.post("/sdapi/v1/txt2img", json=TINY)
            assert answer.status_code == 200, answer.text
            via_api = json.loads(answer.json()["info"])["infotexts"][0]
            direct = client.app_under_test.txt2img(GenerationRequest(**TINY)).infotexts[0]
    finally:
        stop(client.app_under_test)
    model = tiny_checkpoint.stem
    assert f"Probe: api=True model={model}" in via_api  # the first job: no model was loaded before it
    assert f"Probe: api=False model={model}" in direct
