"""Benchmark: per-step overhead of Easel's sampling loop (sampler + CFG + denoiser) over the bare model calls.

A small conv net stands in for the UNet, so that any cost of ours stands out (a real UNet step is 100x longer).
In one process it times (a) the model alone on the inputs it sees (cond and uncond batched), (b) the loop around
a model that costs nothing (returns a ready tensor): our overhead alone, and (c) the full loop; runs are
interleaved, the best of each kept, and timed as this thread's CPU time (one torch thread), so other processes on
a shared machine do not count. overhead = (b) / (a). Usage:

    .venv/bin/python bench/sampler_overhead.py [--steps 20] [--size 64] [--sampler "DPM++ 2M" | all] [--check 0.02]

"ours" is the loop's own cost per model call (sampler maths, CFG batching and combining, denoiser scalings, noise
draws); "full/bare" is the whole loop against the model alone, noisier since it also carries cache effects.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from modules.sampling.cfg import CFGDenoiser  # noqa: E402
from modules.sampling.denoiser import scaled_linear_alphas_cumprod  # noqa: E402
from modules.sampling.noise import ImageRNG  # noqa: E402
from modules.sampling.params import sampler_params  # noqa: E402
from modules.sampling.registry import SamplerRegistry, scale_initial_noise  # noqa: E402


class SmallNet(torch.nn.Module):
    """Three 3x3 convolutions with a timestep and a text-context bias: a few ms per call on one CPU thread."""

    def __init__(self, width: int = 64, ctx: int = 768):
        super().__init__()
        self.inp = torch.nn.Conv2d(4, width, 3, padding=1)
        self.mid = torch.nn.Conv2d(width, width, 3, padding=1)
        self.out = torch.nn.Conv2d(width, 4, 3, padding=1)
        self.ctx = torch.nn.Linear(ctx, width)
        self.freqs = torch.nn.Parameter(torch.randn(width))

    @torch.no_grad()
    def forward(self, x, t, cond):
        h = self.inp(x) + torch.sin(t[:, None] * self.freqs)[:, :, None, None]  # [B, W, h, w]
        h = h + self.ctx(cond.mean(1))[:, :, None, None]
        return self.out(torch.nn.functional.silu(self.mid(torch.nn.functional.silu(h))))  # [B, 4, h, w]


def best_of(repeats: int, fn) -> float:
    """The shortest of `repeats` runs of fn, in this thread's CPU seconds."""
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


def measure(registry: SamplerRegistry, name: str, args) -> tuple[int, float, float, float]:
    """(model calls, bare seconds, loop-around-a-free-model seconds, full loop seconds) for one sampler."""
    torch.manual_seed(0)
    spec, _ = registry.resolve_sampler(name)
    model = SmallNet().eval()
    denoiser = spec.denoiser(model, scaled_linear_alphas_cumprod(), "eps")
    sigmas, _ = registry.build_sigmas(spec, None, args.steps, denoiser)
    cond, uncond = torch.randn(1, 77, 768), torch.randn(1, 77, 768)  # [1, T, C]
    rng = ImageRNG((4, args.size, args.size), [1234])
    noise = rng.next()  # [1, 4, h, w]
    kwargs, _ = sampler_params(spec)
    calls = []

    def run_loop():
        x = scale_initial_noise(spec, noise, sigmas)
        cfg = CFGDenoiser(denoiser, cond, uncond, 7.0)
        extra = ({"noise_sampler": registry.noise_sampler(spec, x, sigmas, rng)} if "noise_sampler" in spec.params
                 else {})
        with torch.inference_mode():
            spec.function(cfg, x, sigmas, disable=True, **kwargs, **extra)

    denoiser.model_fn = lambda x, t, cond: calls.append(t) or model(x, t, cond)
    run_loop()  # the number of model calls the loop makes
    denoiser.model_fn = model
    for _ in range(2):  # warm-up: allocator and caches
        run_loop()
    x_in = torch.randn(2, 4, args.size, args.size)  # [cond + uncond, 4, h, w]
    t_in, cond_in = torch.full((2,), 500.0), torch.cat([cond, uncond])
    ready = model(x_in, t_in, cond_in)

    def run_bare():
        with torch.inference_mode():
            for _ in range(len(calls)):
                model(x_in, t_in, cond_in)

    timings = {"bare": [], "free": [], "full": []}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits all three alike
        timings["bare"].append(best_of(1, run_bare))
        denoiser.model_fn = lambda x, t, cond: ready
        timings["free"].append(best_of(1, run_loop))
        denoiser.model_fn = model
        timings["full"].append(best_of(1, run_loop))
    return len(calls), min(timings["bare"]), min(timings["free"]), min(timings["full"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64, help="latent side (64 = a 512 px image)")
    parser.add_argument("--sampler", default="DPM++ 2M", help='a sampler name, or "all"')
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check", type=float, default=None, help="exit 1 if an overhead exceeds this fraction")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry = SamplerRegistry()
    names = [s.name for s in registry.samplers] if args.sampler == "all" else [args.sampler]
    print(f"{args.steps} steps on a [2, 4, {args.size}, {args.size}] batch (cond + uncond), {args.threads} thread(s), "
          f"CPU time, best of {args.repeats}")
    print(f"{'sampler':<18} {'calls':>5} {'bare ms/call':>12} {'ours us/call':>12} {'overhead':>9} {'full/bare':>9}")
    worst = 0.0
    for name in names:
        n_calls, bare, free, full = measure(registry, name, args)
        overhead = free / bare
        worst = max(worst, overhead)
        print(f"{name:<18} {n_calls:>5} {bare * 1e3 / n_calls:>12.3f} {free * 1e6 / n_calls:>12.0f} "
              f"{overhead * 100:>8.2f}% {full / bare:>9.4f}")
    if args.check is not None and worst > args.check:
        print(f"FAIL: overhead above {args.check * 100:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
