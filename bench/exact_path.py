"""Benchmark: how close the exact path runs to this core's matrix-multiply peak, and Easel against diffusers.

One process, one torch thread, CPU clock (other load on a shared machine does not count). Prints the CPU flags that
decide the kernels, the GEMM peak (2048² matmul in the model's dtype and in float32), the FLOPs of one UNet call at
512×512 with CFG (batch 2, counted by torch.utils.flop_counter) and their rate as a fraction of the peak, then
Easel/diffusers on the same checkpoint, weights and steps (alternating, medians). Usage:

    .venv/bin/python bench/exact_path.py [--ckpt FILE] [--steps 20] [--rounds 2] [--size 512] [--precision full]

`--precision full` runs the float32 path a CPU without bf16 takes (Zen 3) on a CPU that has it.

`gemm_peak_gflops`, `unet_flop_rate` and `easel_vs_diffusers` are imported by bench/speed_options.py.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni")


def cpu_flags() -> str:
    """The SIMD flags of this CPU that matter to oneDNN's kernel choice."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return " ".join(f for f in FLAGS_OF_INTEREST if f in flags) or "unknown"


def gemm_peak_gflops(n: int = 2048, dtype: torch.dtype = torch.float32, repeats: int = 5) -> float:
    """GFLOP/s of an n×n×n matmul in `dtype` on the current threads, best of `repeats` (CPU clock)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        torch.mm(a, b)
        best = min(best, time.process_time() - start)
    return 2 * n ** 3 / best / 1e9


def unet_inputs(size: int = 512, batch: int = 2, context_dim: int = 768):
    torch.manual_seed(0)
    x = torch.randn(batch, 4, size // 8, size // 8)  # [cond + uncond, 4, h, w]
    return x, torch.full((batch,), 500.0), torch.randn(batch, 77, context_dim)  # t [B], context [B, 77, C]


def flop_counter():
    """torch's FlopCounterMode, also counting the products of the CPU's fused attention.

    torch's formula table knows the CUDA attention kernels but not `_scaled_dot_product_flash_attention_for_cpu`, so
    on a CPU every attention counted zero FLOPs (about 0.25 of SD 1.5's 1.6 TFLOP per 512² CFG call); this maps it to
    the same formula: 2·b·h·q·k·(d + d_v).
    """
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    return FlopCounterMode(display=False, custom_mapping={op: cpu_attention})


def unet_flop_rate(model, size: int = 512, calls: int = 2) -> tuple[float, float]:
    """(TFLOP per UNet call at `size`² with CFG, measured GFLOP/s: median of `calls` timed calls, CPU clock)."""
    x, t, context = unet_inputs(size, context_dim=model.unet.config.cross_attention_dim)
    counter = flop_counter()
    with counter, stock_attention(model.unet):  # the work as torch's SDPA counts it, whichever kernel runs it
        model.unet_forward(x, t, context)
    flops = counter.get_total_flops()
    model.unet_forward(x, t, context)  # untimed: a kernel's first call at this shape (profiling, compiling)
    seconds = []
    for _ in range(calls):
        start = time.process_time()
        model.unet_forward(x, t, context)
        seconds.append(time.process_time() - start)
    return flops / 1e12, flops / statistics.median(seconds) / 1e9


def easel_vs_diffusers(app, model, steps: int = 20, rounds: int = 1) -> tuple[float, float]:
    """(Easel seconds, diffusers seconds): medians of `rounds` alternating 512² txt2img runs, CPU clock."""
    from bench.txt2img import time_diffusers, time_easel

    time_easel(app, 1)  # untimed: first-call allocations and kernel choices (a new shape compiles its attention)
    easel, diffusers = [], []
    for _ in range(rounds):
        easel.append(time_easel(app, steps, time.process_time))
        with stock_modules(model.unet, model.vae):
            diffusers.append(time_diffusers(model, steps, time.process_time))
    return statistics.median(easel), statistics.median(diffusers)


@contextlib.contextmanager
def stock_modules(*networks):
    """diffusers as it comes: the modules Easel swapped for its CPU kernels (modules/models/channels_last.py) get
    their stock classes back for the block, and the attention layers diffusers' own processor (Easel's is
    modules/models/onednn_attention.py for bf16)."""
    from modules.models.channels_last import PointwiseConv2d

    swapped = [(m, type(m)) for n in networks for m in n.modules()
               if isinstance(m, PointwiseConv2d) or type(m).__name__ == "ChannelsLastTransformer2D"]
    for module, cls in swapped:
        module.__class__ = cls.__mro__[1]
    try:
        with stock_attention(*networks):
            yield
    finally:
        for module, cls in swapped:
            module.__class__ = cls


@contextlib.contextmanager
def stock_attention(*networks):
    """diffusers' own attention processor on every attention layer of `networks` for the block."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    processors = [(n, n.attn_processors) for n in networks]
    for network, _ in processors:
        network.set_attn_processor(AttnProcessor2_0())
    try:
        yield
    finally:
        for network, saved in processors:
            network.set_attn_processor(saved)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precision", choices=("full", "half", "autocast"), help="Easel's --precision (default: "
                        "the CPU's: bf16 where it has avx512_bf16)")
    args = parser.parse_args()
    from bench.txt2img import build, ensure_checkpoint

    torch.set_num_threads(1)
    print(f"cpu flags: {cpu_flags()}; torch {torch.__version__}, 1 thread, CPU clock", flush=True)
    app = build(ensure_checkpoint(args.ckpt), ROOT / "bench" / "results" / "data", args.precision)
    model = app.models.get(None)
    peak32 = gemm_peak_gflops()
    peak = peak32 if model.dtype == torch.float32 else gemm_peak_gflops(dtype=model.dtype)
    print(f"GEMM peak 2048^2: float32 {peak32:.1f} GFLOP/s, {model.dtype} {peak:.1f} GFLOP/s", flush=True)
    tflop, rate = unet_flop_rate(model, args.size)
    print(f"UNet call {args.size}x{args.size} CFG batch 2 ({model.dtype}): {tflop:.3f} TFLOP, {rate:.1f} GFLOP/s = "
          f"{rate / peak:.2f} of the {model.dtype} GEMM peak (goal >= 0.85)", flush=True)
    easel, diffusers = easel_vs_diffusers(app, model, args.steps, args.rounds)
    print(f"{args.steps} steps 512x512 (CPU s, median of {args.rounds}): easel {easel:.1f}, diffusers {diffusers:.1f}, "
          f"easel/diffusers {easel / diffusers:.3f} (goal <= 0.9)", flush=True)


if __name__ == "__main__":
    main()
