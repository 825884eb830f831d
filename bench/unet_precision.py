"""Benchmark: one SD 1.5-sized UNet step at 512×512 (CFG batch of 2) in the default precision vs float32.

The two precisions are timed alternately (A/B/A/B…) so that load from other processes on the machine falls on
both alike; prints the median seconds per step of each and their ratio. Usage:

    .venv/bin/python bench/unet_precision.py [--ckpt FILE] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.txt2img import build, ensure_checkpoint  # noqa: E402


def step_seconds(model) -> float:
    x = torch.randn(2, 4, 64, 64)  # [cond + uncond, 4, H/8, W/8]
    context = torch.randn(2, 77, 768)
    start = time.perf_counter()
    model.unet_forward(x, torch.tensor([500.0, 500.0]), context)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ckpt = ensure_checkpoint(args.ckpt)
    data = ROOT / "bench" / "results" / "data"
    fast = build(ckpt, data, None).models.get(None)
    full = build(ckpt, data, "full").models.get(None)
    for model in (fast, full):
        step_seconds(model)  # warm-up
    times = {fast.dtype: [], full.dtype: []}
    for _ in range(args.rounds):
        for model in (fast, full):
            times[model.dtype].append(step_seconds(model))
    a, b = statistics.median(times[fast.dtype]), statistics.median(times[full.dtype])
    print(f"UNet step 512x512 batch 2: {fast.dtype} {a:.2f} s, float32 {b:.2f} s, speed-up {b / a:.2f}x "
          f"(target >= 3); threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
