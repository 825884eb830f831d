"""A real Easel server in a subprocess on a free loopback port (what API clients talk to)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def data_dir_with(checkpoint: Path, data_dir: Path) -> Path:
    target = data_dir / "models" / "Stable-diffusion"
    target.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.parent.glob(checkpoint.stem + ".*"):
        shutil.copy(file, target / file.name)
    return data_dir


class ServerProcess:
    """`python webui.py --nowebui --data-dir D --port P …`; `stop()` ends it, `kill()` is kill -9."""

    def __init__(self, data_dir: Path, *flags: str, auth: tuple[str, str] | None = None, port: int | None = None,
                 tls: bool = False):
        """`tls`: the flags make it serve HTTPS (a self-signed certificate: not verified here)."""
        self.data_dir, self.flags, self.auth, self.verify = data_dir, flags, auth, not tls
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # one math thread: the tiny model gains nothing from more, and a shared CPU loses a lot (5 s → 0.3 s a job)
        env = {"OMP_NUM_THREADS": "1", **os.environ, "COMMANDLINE_ARGS": "", "PYTHONUNBUFFERED": "1"}
        self.log = open(data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115 - the server writes it until stop()
        self.proc = subprocess.Popen([sys.executable, str(REPO / "webui.py"), "--nowebui", "--data-dir",
                                      str(data_dir), "--port", str(self.port), *flags],
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.time() + STARTUP_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                answer = requests.get(self.url + "/sdapi/v1/progress", auth=self.auth, timeout=2, verify=self.verify)
                if answer.status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # a busy machine may answer slowly at first
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"server did not start in {STARTUP_TIMEOUT_S} s: {self.log_text()[-2000:]}")

    def log_text(self) -> str:
        self.log.flush()
        return (self.data_dir / f"server-{self.port}.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
