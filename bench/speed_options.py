"""Speed options bench: what token merging, HyperTile and feature caching buy and cost (docs/performance.md).

    .venv/bin/python bench/speed_options.py [--ckpt FILE] [--prompts 200] [--steps 20]

One process, one thread, CPU time (the machine may be shared). Prints:
- the exact path's lines from bench/exact_path.py (GEMM peak in the model's dtype, the UNet's FLOP rate as a
  fraction of it, Easel against diffusers on `--steps` steps);
- per option, the CPU seconds of one UNet call with CFG (batch 2) at 512 × 512 on the full-size random SD 1.5-shaped
  checkpoint (tools/make_full_size_checkpoint.py writes it; made here when missing), full and, for feature caching,
  the shallow call of a cached step; from those the speed-up of a `--steps` run over the exact path;
- per option, the built-in model's held-out accuracy (colour / shape / position, bench/builtin_quality.py's
  measure, DPM++ 2M, `--steps` steps) and its change against no option, in points;
- last line: `combined speed-up: N.NN× at accuracy loss P points`, the fastest candidate losing at most 5 points.

HyperTile runs with swap size 1 (always the finest admissible tiling) so one timed call stands for every call.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import webui  # noqa: E402
from bench.scratch import temporary_data_dir  # noqa: E402
from modules import cli  # noqa: E402
from modules.models.speedups.options import HyperTile, UnetPatches  # noqa: E402

DEFAULT_CKPT = ROOT / "bench" / "results" / "sd15-random-fp16" / "sd15-random.safetensors"
MAX_LOSS = 5.0  # points
ATTRIBUTES = ("colour", "shape", "position")
TILES = {"hypertile_enable_unet": True, "hypertile_swap_size_unet": 1}
CANDIDATES = {  # label → settings overrides; the singles first
    "token merging 0.5": {"token_merging_ratio": 0.5},
    "HyperTile": TILES,
    "DeepCache interval 3": {"deep_cache_interval": 3},
    "DeepCache interval 4": {"deep_cache_interval": 4},
    "DeepCache interval 5": {"deep_cache_interval": 5},
    "ToMe 0.5 + HyperTile + DeepCache 3": {"token_merging_ratio": 0.5, **TILES, "deep_cache_interval": 3},
    "ToMe 0.5 + HyperTile + DeepCache 4": {"token_merging_ratio": 0.5, **TILES, "deep_cache_interval": 4},
    "ToMe 0.5 + HyperTile + DeepCache 5": {"token_merging_ratio": 0.5, **TILES, "deep_cache_interval": 5},
}


def cpu_flags() -> str:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    return " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags) or "unknown"


def app_for(ckpt: Path | None):
    flags = ["--data-dir", temporary_data_dir(), "--nowebui"]
    return webui.build_app(cli.parse_args(flags + (["--ckpt", str(ckpt)] if ckpt else []), env={}))


def patches_of(overrides: dict) -> UnetPatches:
    tiles = HyperTile(swap_size=overrides.get("hypertile_swap_size_unet", 3)) \
        if overrides.get("hypertile_enable_unet") else None
    return UnetPatches(overrides.get("token_merging_ratio", 0.0), overrides.get("deep_cache_interval", 1), tiles)


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def call_times(model, overrides: dict) -> tuple[float, float]:
    """CPU seconds of (a full call, a cached step's call) with CFG at 512²; the same twice without caching."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 64, 64, generator=gen)  # [2, 4, 64, 64]: cond and uncond rows of one 512² image
    context = torch.randn(2, 77, model.unet.config.cross_attention_dim, generator=gen)  # [2, 77, 768]
    t = torch.tensor([500.0, 500.0])
    if not overrides:
        model.unet_forward(x, t, context)  # untimed: kernels met at a new shape compile on their first call
        full = cpu_seconds(lambda: model.unet_forward(x, t, context))  # the exact path
        return full, full
    step = {"now": 0}
    run = model.unet_run(patches_of(overrides), lambda: step["now"])
    model.unet_forward(x, t, context, run=run)  # untimed, as above (token merging and tiles make new shapes)
    full = cpu_seconds(lambda: model.unet_forward(x, t, context, run=run))
    if overrides.get("deep_cache_interval", 1) <= 1:
        return full, full
    step["now"] = 1
    return full, cpu_seconds(lambda: model.unet_forward(x, t, context, run=run))


def run_seconds(full: float, shallow: float, steps: int, interval: int) -> float:
    """CPU seconds of a run's UNet calls: full on steps 0, N, 2N, …, shallow in between.

    >>> run_seconds(10.0, 2.0, 20, 1), run_seconds(10.0, 2.0, 20, 5)
    (200.0, 72.0)
    """
    fulls = math.ceil(steps / interval)
    return fulls * full + (steps - fulls) * shallow


def speed_table(ckpt: Path, steps: int, with_exact_path: bool) -> dict[str, float]:
    """Speed-up over the exact path of each candidate, printed with its call times (after bench/exact_path.py's
    lines on the same model when `with_exact_path`)."""
    app = app_for(ckpt)
    model = app.models.get()
    if with_exact_path:
        exact_path_lines(app, model, steps)
    print(f"speed: {ckpt.name}, {model.dtype}, UNet call with CFG (batch 2) at 512x512, CPU seconds, "
          f"{steps}-step run")
    with torch.inference_mode():
        width = model.unet.config.cross_attention_dim
        model.unet_forward(torch.zeros(1, 4, 32, 32), 500.0, torch.zeros(1, 77, width))  # warm-up (allocations)
        exact, _ = call_times(model, {})
        print(f"  exact path            full {exact:7.2f} s")
        ups, cache = {}, {}
        for label, overrides in CANDIDATES.items():
            interval = overrides.get("deep_cache_interval", 1)
            key = (tuple(sorted((k, v) for k, v in overrides.items() if k != "deep_cache_interval")), interval > 1)
            if key not in cache:  # the cached step's cost does not depend on the interval: time it once
                cache[key] = call_times(model, {**overrides, "deep_cache_interval": 2} if interval > 1 else overrides)
            full, shallow = cache[key]
            ups[label] = steps * exact / run_seconds(full, shallow, steps, interval)
            print(f"  {label:<36} full {full:7.2f} s, cached step {shallow:7.2f} s → {ups[label]:.2f}×")
    del model, app
    gc.collect()
    return ups


def accuracy_table(prompts: int, steps: int) -> dict[str, float]:
    """Loss in points of each candidate against no option, on the built-in model's held-out prompts."""
    from bench import builtin_quality

    builtin_quality.STEPS = steps
    app = app_for(None)
    note = "" if prompts >= 200 else " (fewer than the bench's 200 prompts, to keep the shared machine's run short)"
    print(f"quality: built-in model, {prompts} held-out prompts{note}, DPM++ 2M, {steps} steps, 64x64")

    def mean_accuracy(overrides: dict) -> tuple[float, dict]:
        acc, _ = builtin_quality.held_out(app, prompts, override_settings=overrides)
        return 100 * sum(acc[a] for a in ATTRIBUTES) / len(ATTRIBUTES), acc

    base, acc = mean_accuracy({})
    print(f"  no option              {base:5.1f}  ({', '.join(f'{a} {acc[a]:.1%}' for a in ATTRIBUTES)})")
    losses = {}
    for label, overrides in CANDIDATES.items():
        value, acc = mean_accuracy(overrides)
        losses[label] = base - value
        print(f"  {label:<36} {value:5.1f}  loss {losses[label]:+5.1f} points  "
              f"({', '.join(f'{a} {acc[a]:.1%}' for a in ATTRIBUTES)})")
    return losses


def exact_path_lines(app, model, steps: int) -> None:
    """bench/exact_path.py's report on the model the speed table uses: GEMM peak in its dtype, the UNet's FLOP rate
    as a fraction of it, Easel/diffusers on `steps` steps."""
    from bench import exact_path

    peak = exact_path.gemm_peak_gflops(dtype=model.dtype)
    tflop, rate = exact_path.unet_flop_rate(model)
    print(f"exact path: GEMM peak 2048^2 {model.dtype} {peak:.1f} GFLOP/s; UNet call 512x512 CFG batch 2: "
          f"{tflop:.3f} TFLOP at {rate:.1f} GFLOP/s = {rate / peak:.2f} of the peak (goal >= 0.85)", flush=True)
    easel, diffusers = exact_path.easel_vs_diffusers(app, model, steps)
    print(f"exact path: {steps} steps 512x512, CPU s: easel {easel:.1f}, diffusers {diffusers:.1f}, "
          f"easel/diffusers {easel / diffusers:.3f} (goal <= 0.9)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, default=DEFAULT_CKPT, help="full-size SD 1.5-shaped checkpoint")
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--skip-exact-path", action="store_true", help="leave out bench/exact_path.py's lines")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"cpu flags: {cpu_flags()}; torch {torch.__version__}, {torch.get_num_threads()} thread")
    if not args.ckpt.exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_full_size_checkpoint.py"), str(args.ckpt.parent),
                        "--name", args.ckpt.stem], check=True)
    ups = speed_table(args.ckpt, args.steps, not args.skip_exact_path)
    losses = accuracy_table(args.prompts, args.steps)
    fine = {label: up for label, up in ups.items() if losses[label] <= MAX_LOSS}
    if not fine:
        print(f"combined speed-up: 1.00× at accuracy loss 0.0 points (no candidate within {MAX_LOSS:g} points)")
        return 0
    best = max(fine, key=fine.get)
    print(f"best within {MAX_LOSS:g} points: {best}")
    print(f"combined speed-up: {fine[best]:.2f}× at accuracy loss {max(losses[best], 0.0):.1f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
