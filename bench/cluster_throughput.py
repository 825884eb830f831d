"""Benchmark: jobs per second of the built-in model through the queue, in one run and on the same jobs:
the plain process (two threads), one Ray worker (two threads), two Ray workers (one thread each); and the time
Ray adds to one job when nothing else runs (sequential one-step jobs, Ray worker against the plain process).
Prints the CPU flags and ratios. Needs Ray (requirements-cluster.txt). Usage:

    .venv/bin/python bench/cluster_throughput.py [--jobs 200] [--steps 8] [--size 64]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ray  # noqa: E402

import webui  # noqa: E402
from bench.progress_eta import cpu_flags  # noqa: E402
from modules import cli  # noqa: E402
from modules.cluster.dispatcher import ClusterDispatcher  # noqa: E402
from modules.cluster.remote_slot import RemoteSlot  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402


def requests(count: int, steps: int, size: int) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"a blue square at the left {n}", seed=n, steps=steps, width=size, height=size)
            for n in range(count)]


def timed(app, batch: list[GenerationRequest], warm: GenerationRequest) -> float:
    """Seconds to run `batch` through the queue, after one warm-up job (model loaded everywhere)."""
    app.jobs.wait(app.jobs.submit("txt2img", warm).id)
    started = time.perf_counter()
    jobs = [app.jobs.submit("txt2img", r) for r in batch]
    for job in jobs:
        app.jobs.wait(job.id)
    return time.perf_counter() - started


def sequential(app, batch: list[GenerationRequest]) -> float:
    """Mean seconds per job when each is submitted after the previous one finished."""
    started = time.perf_counter()
    for r in batch:
        app.jobs.wait(app.jobs.submit("txt2img", r).id)
    return (time.perf_counter() - started) / len(batch)


def cluster_app(data: str, workers: int, threads: int):
    argv = ["--data-dir", data, "--no-hashing"]
    ray.init(address="local", num_cpus=os.cpu_count(), resources={"easel_worker": workers}, include_dashboard=False,
             log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    app = webui.build_app(cli.parse_args(argv, env={}))
    app.jobs.remove_slot("local")
    app.cluster = ClusterDispatcher(app.jobs, argv, app.snapshot_for, app.paths.data_dir, threads=threads)
    app.cluster.start()
    app.jobs.start()
    while sum(isinstance(s, RemoteSlot) for s in app.jobs.slots()) < workers:
        time.sleep(0.2)
    return app


def close(app) -> None:
    if app.cluster is not None:
        app.cluster.stop()
    app.jobs.close()
    if ray.is_initialized():
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--overhead-jobs", type=int, default=20)
    args = parser.parse_args()
    print(f"cpu flags: {cpu_flags()}, {os.cpu_count()} cores; {args.jobs} jobs of {args.steps} steps at {args.size}²")
    batch = requests(args.jobs, args.steps, args.size)
    warm = requests(1, args.steps, args.size)[0]
    tiny = requests(args.overhead_jobs, 1, args.size)
    seconds, per_job = {}, {}
    with tempfile.TemporaryDirectory() as data:
        import torch

        torch.set_num_threads(2)
        plain = webui.build_app(cli.parse_args(["--data-dir", data, "--no-hashing"], env={}), worker=True)
        seconds["plain process, 2 threads"] = timed(plain, batch, warm)
        per_job["plain"] = sequential(plain, tiny)
        plain.jobs.close()
        for workers, threads in ((1, 2), (2, 1)):
            app = cluster_app(data, workers, threads)
            try:
                seconds[f"{workers} Ray worker(s), {threads} thread(s) each"] = timed(app, batch, warm)
                if workers == 1:
                    per_job["ray"] = sequential(app, tiny)
            finally:
                close(app)
    base = seconds["plain process, 2 threads"]
    for label, value in seconds.items():
        print(f"{label}: {args.jobs / value:.2f} jobs/s ({value:.1f} s), {base / value:.2f}× the plain process")
    two, one = seconds["2 Ray worker(s), 1 thread(s) each"], seconds["1 Ray worker(s), 2 thread(s) each"]
    print(f"2 workers / 1 worker: {one / two:.2f}×")
    print(f"Ray's cost per job at zero load: {(per_job['ray'] - per_job['plain']) * 1000:.0f} ms "
          f"({per_job['plain'] * 1000:.0f} ms per one-step job in the plain process)")


if __name__ == "__main__":
    main()
