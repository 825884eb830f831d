"""Benchmark: 512×512, 20-step txt2img on a full-size SD 1.5-shaped checkpoint — Easel vs diffusers, bf16 vs fp32.

Prints load time, peak RSS while loading, and per-run times with their ratios, all measured in this one process
on the same weights, dtype and threads. Usage:

    .venv/bin/python bench/txt2img.py [--ckpt FILE] [--steps 20] [--repeat 2] [--skip-fp32]

Easel and diffusers run alternately (--repeat rounds of one each) and the ratio is taken of the medians, so a change
of load on the shared machine during the run falls on both sides.

Without --ckpt a random fp16 checkpoint (2.1 GB) is written once to bench/results/ (ignored by git) and reused.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

import webui  # noqa: E402
from modules import cli  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402

PROMPT = "a photograph of an astronaut riding a horse"


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def ensure_checkpoint(path: Path | None) -> Path:
    if path:
        return path
    out = ROOT / "bench" / "results" / "sd15-random-fp16"
    found = sorted(out.glob("*.safetensors")) if out.exists() else []
    if not found:
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_full_size_checkpoint.py"), str(out)], check=True)
        found = sorted(out.glob("*.safetensors"))
    return found[0]


def build(ckpt: Path, data_dir: Path, precision: str | None):
    argv = ["--data-dir", str(data_dir), "--ckpt", str(ckpt), "--no-hashing"]
    if precision:
        argv += ["--precision", precision]
    return webui.build_app(cli.parse_args(argv, env={}))


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_easel(app, steps: int, clock=time.perf_counter) -> float:
    request = GenerationRequest(prompt=PROMPT, steps=steps, width=512, height=512, seed=1, sampler_name="Euler")
    start = clock()
    app.txt2img(request)
    return clock() - start


def time_diffusers(model, steps: int, clock=time.perf_counter) -> float:
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="linspace", steps_offset=1)
    pipe = StableDiffusionPipeline(vae=model.vae, text_encoder=model.text_encoder, tokenizer=model.tokenizer,
                                   unet=model.unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(1)
    layout = model.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    for part in (model.unet, model.vae):  # diffusers as it comes: contiguous (NCHW) weights
        part.to(memory_format=torch.contiguous_format)
    try:
        start = clock()
        with torch.inference_mode():
            pipe(PROMPT, num_inference_steps=steps, guidance_scale=7.0, height=512, width=512, generator=generator)
        return clock() - start
    finally:
        for part in (model.unet, model.vae):  # back to Easel's layout
            part.to(memory_format=torch.channels_last if layout else torch.contiguous_format)


def load_measured(ckpt: Path, data_dir: Path, precision: str | None):
    gc.collect()
    before = rss_mb("VmRSS")
    reset_peak_rss()
    start = time.perf_counter()
    app = build(ckpt, data_dir, precision)
    model = app.models.get(None)
    seconds = time.perf_counter() - start
    peak = rss_mb("VmHWM") - before
    size = model.memory_bytes() / 2**20
    return app, model, seconds, peak, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of Easel then diffusers (medians compared)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="cpu: the process's CPU seconds, which with --threads 1 count the work whatever else "
                             "the shared machine runs")
    parser.add_argument("--skip-fp32", action="store_true")
    parser.add_argument("--skip-diffusers", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    ckpt = ensure_checkpoint(args.ckpt)
    data_dir = ROOT / "bench" / "results" / "data"
    print(f"checkpoint {ckpt} ({ckpt.stat().st_size / 2**30:.2f} GiB), threads {torch.get_num_threads()}, "
          f"{args.clock} clock")

    app, model, seconds, peak, size = load_measured(ckpt, data_dir, None)
    print(f"load (default precision {model.dtype}): {seconds:.1f} s, peak RSS growth {peak:.0f} MiB, "
          f"model in memory {size:.0f} MiB, ratio {peak / size:.2f} (target <= 1.30)")
    time_easel(app, 2)  # warm-up: first-call allocations, kernels
    if not args.skip_diffusers:
        time_diffusers(model, 2)
    easel_runs, diffusers_runs = [], []
    for round_no in range(1, args.repeat + 1):
        easel_runs.append(time_easel(app, args.steps, clock))
        line = f"round {round_no}: {args.steps} steps 512x512 {model.dtype}: easel {easel_runs[-1]:.1f} s"
        if not args.skip_diffusers:
            diffusers_runs.append(time_diffusers(model, args.steps, clock))
            line += f", diffusers {diffusers_runs[-1]:.1f} s"
        print(line, flush=True)
    easel = statistics.median(easel_runs)
    if diffusers_runs:
        diffusers_s = statistics.median(diffusers_runs)
        print(f"median of {args.repeat}: easel {easel:.1f} s, diffusers {diffusers_s:.1f} s, "
              f"easel/diffusers {easel / diffusers_s:.3f} (target <= 1.0)")
    if args.skip_fp32:
        return
    app.models.unload()
    del app, model
    gc.collect()
    app32, model32, *_ = load_measured(ckpt, data_dir, "full")
    time_easel(app32, 1)
    fp32 = time_easel(app32, args.steps, clock)
    print(f"{args.steps} steps 512x512 float32: easel {fp32:.1f} s; speed-up of default precision "
          f"{fp32 / easel:.2f}x (target >= 3)")


if __name__ == "__main__":
    main()
