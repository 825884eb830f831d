"""Benchmark: how true the progress ETA is. A cold 40-step txt2img on the built-in model (the model load is part
of the first job, as on a fresh start); the ETA read when 3 steps are done is compared with the time the job then
really took. Prints the CPU flags, both times and their ratio (goal: within 25 %). Usage:

    .venv/bin/python bench/progress_eta.py [--steps 40] [--size 128] [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import webui  # noqa: E402
from modules import cli  # noqa: E402
from modules.pipeline.job import Job  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402


def cpu_flags() -> str:
    text = Path("/proc/cpuinfo").read_text()
    return " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in text)


def one_run(app, steps: int, size: int, seed: int) -> tuple[float, float]:
    """(ETA shown after step 3, seconds the job really took from then)."""
    job = Job()
    request = GenerationRequest(prompt="a red star at the top on a blue background", steps=steps, width=size,
                                height=size, seed=seed, sampler_name="Euler")
    worker = threading.Thread(target=app.txt2img, args=(request, job))
    worker.start()
    while job.progress().sampling_step < 3 and worker.is_alive():
        time.sleep(0.005)
    eta, seen = job.progress().eta_seconds, time.monotonic()
    worker.join()
    return eta or float("nan"), time.monotonic() - seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"cpu flags: {cpu_flags()}")
    with tempfile.TemporaryDirectory() as data:
        app = webui.build_app(cli.parse_args(["--data-dir", data], env={}))  # the built-in model
        try:
            for run in range(args.runs):
                eta, real = one_run(app, args.steps, args.size, 100 + run)
                label = "cold (model load in the job)" if run == 0 else "warm"
                print(f"run {run + 1} {label}: ETA at step 3 {eta:.2f} s, real remaining {real:.2f} s, "
                      f"ratio {eta / real:.2f}")
        finally:
            app.jobs.close()


if __name__ == "__main__":
    main()
