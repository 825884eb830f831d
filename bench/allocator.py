"""Benchmark: minor page faults and CPU seconds per UNet call under each memory allocator (docs/performance.md).

Each allocator runs in its own child process (a preloaded library must be there before Python starts), on the
full-size random SD 1.5-shaped checkpoint, 512×512 with CFG (batch 2), one torch thread, CPU clock, so other load
on the shared machine does not count. The children are run in turns (A/B/C/D, then again) and the medians compared.

    .venv/bin/python bench/allocator.py [--ckpt FILE] [--calls 2] [--rounds 2] [--size 512]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modules.allocator import PRELOADS, apply_mallopt, find_library  # noqa: E402

CONFIGS = ("glibc", "mallopt", "jemalloc", "tcmalloc")


def child_env(config: str) -> dict[str, str] | None:
    """The environment of a child for `config` (None: its library is not installed)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.pop("EASEL_ALLOCATOR", None)
    if config in PRELOADS:
        library = find_library(config)
        if library is None:
            return None
        env["LD_PRELOAD"] = library
    return env


def measure(ckpt: Path, calls: int, size: int, config: str) -> dict:
    """In the child: load, warm up, then `calls` UNet calls; faults and CPU seconds per call."""
    if config == "mallopt":
        apply_mallopt()
    import torch

    from bench.txt2img import build

    torch.set_num_threads(1)
    model = build(ckpt, ROOT / "bench" / "results" / "data", None).models.get(None)
    x = torch.randn(2, 4, size // 8, size // 8)  # [cond + uncond, 4, h, w]
    context = torch.randn(2, 77, 768)
    t = torch.tensor([500.0, 500.0])
    model.unet_forward(x, t, context)  # warm-up: first-call allocations and kernel choices
    faults0, cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time(), time.perf_counter()
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    for _ in range(calls):
        model.unet_forward(x, t, context)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"config": config, "dtype": str(model.dtype), "faults": (usage.ru_minflt - faults0) / calls,
            "cpu_s": (time.process_time() - cpu0) / calls, "sys_s": (usage.ru_stime - sys0) / calls,
            "wall_s": (time.perf_counter() - wall0) / calls, "max_rss_mb": usage.ru_maxrss / 1024}


def run_child(ckpt: Path, calls: int, size: int, config: str) -> dict | None:
    env = child_env(config)
    if env is None:
        print(f"{config}: library not installed, skipped", flush=True)
        return None
    command = [sys.executable, __file__, "--child", config, "--ckpt", str(ckpt), "--calls", str(calls),
               "--size", str(size)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"  {config:9s} {result['faults']:>10,.0f} minor faults/call  cpu {result['cpu_s']:6.2f} s/call "
          f"(kernel {result['sys_s']:5.2f} s)  wall {result['wall_s']:6.2f} s  max RSS {result['max_rss_mb']:.0f} MiB",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--child", choices=CONFIGS)
    args = parser.parse_args()
    from bench.txt2img import ensure_checkpoint

    ckpt = ensure_checkpoint(args.ckpt)
    if args.child:
        print(json.dumps(measure(ckpt, args.calls, args.size, args.child)))
        return
    results: dict[str, list[dict]] = {}
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no} ({args.size}x{args.size}, batch 2, 1 thread, {args.calls} calls each):", flush=True)
        for config in args.configs.split(","):
            result = run_child(ckpt, args.calls, args.size, config)
            if result:
                results.setdefault(config, []).append(result)
    base = statistics.median(r["cpu_s"] for r in results["glibc"]) if "glibc" in results else None
    for config, runs in results.items():
        cpu = [r["cpu_s"] for r in runs]
        speed = f", speed-up over glibc {base / statistics.median(cpu):.3f}x" if base else ""
        print(f"{config}: median cpu {statistics.median(cpu):.2f} s/call (spread {min(cpu):.2f}-{max(cpu):.2f}), "
              f"faults {statistics.median(r['faults'] for r in runs):,.0f}/call{speed}")


if __name__ == "__main__":
    main()
