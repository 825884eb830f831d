"""The Easel server of tools/extension_corpus.py: webui.py on a data dir with its page, install.py scripts in pip's
dry-run mode, and a throwaway folder of packages on its PYTHONPATH."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.api.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 600
# pip never installs (dry runs, with Easel's constraints); launch.run_pip shows pip's output so the log has it
DRY_PIP = {"PIP_DRY_RUN": "1", "PIP_RETRIES": "0", "PIP_TIMEOUT": "5", "WEBUI_LAUNCH_LIVE_OUTPUT": "1"}



class Easel:
    """webui.py on a data dir, with install.py scripts in pip's dry-run mode (and `site` on its PYTHONPATH)."""

    def __init__(self, data_dir: Path, site: Path | None = None):
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "COMMANDLINE_ARGS": "", "PYTHONUNBUFFERED": "1",
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **DRY_PIP}
        if site is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(site)) if p)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "webui.py"), "--data-dir", str(data_dir),
                                          "--port", str(self.port)], cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Easel exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if requests.get(self.url + "/sdapi/v1/progress", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"Easel did not answer in {START_TIMEOUT_S} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str):
        return requests.get(self.url + path, timeout=120)

    def txt2img(self, **fields) -> dict:
        body = {"prompt": "a red circle", "steps": 4, "width": 64, "height": 64, "seed": 1, "sampler_name": "Euler",
                **fields}
        answer = requests.post(self.url + "/sdapi/v1/txt2img", json=body, timeout=600)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
