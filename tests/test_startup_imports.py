"""The start-up rule (docs/architecture.md §4): the App, the API and the page are built and the page is served
without importing torch (or diffusers, transformers, spandrel); the background warm-up then imports them, still
loading no model.

Runs in a fresh interpreter: this test process has long imported torch itself."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "diffusers", "transformers", "spandrel", "safetensors.torch")

SCRIPT = """
import json, sys
import webui
from starlette.testclient import TestClient

heavy = {heavy!r}
loaded = lambda: sorted(m for m in heavy if m in sys.modules)
app = webui.build_app(webui.parse_flags(["--data-dir", {data!r}]))
after_app = loaded()
server = webui.create_server(app)
after_server = loaded()
with TestClient(server) as client:
    status = client.get("/").status_code
after_page = loaded()
app.warm_up()
print(json.dumps({{"after_app": after_app, "after_server": after_server, "after_page": after_page,
                  "status": status, "after_warm_up": loaded(),
                  "pipeline": "modules.pipeline.txt2img" in sys.modules,
                  "loader": "modules.models.loader" in sys.modules,
                  "model_loaded": app.models.current is not None}}))
"""


def test_page_is_built_and_served_before_torch_loads(tmp_path, tiny_checkpoint):
    target = tmp_path / "models" / "Stable-diffusion"
    target.mkdir(parents=True)
    for file in tiny_checkpoint.parent.glob(tiny_checkpoint.stem + ".*"):
        shutil.copy(file, target / file.name)
    code = SCRIPT.format(heavy=HEAVY, data=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COMMANDLINE_ARGS": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["after_app"] == [], f"building the App imported {seen['after_app']}"
    assert seen["after_server"] == [], f"building the API and the page imported {seen['after_server']}"
    assert seen["status"] == 200
    assert seen["after_page"] == [], f"serving the page imported {seen['after_page']}"
    assert {"torch", "diffusers", "transformers"} <= set(seen["after_warm_up"])
    assert seen["pipeline"] and seen["loader"]
    assert not seen["model_loaded"], "the warm-up must not load a model"
