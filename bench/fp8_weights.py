"""Benchmark: what FP8 weight storage (A1111's "FP8 weight", docs/performance.md) saves and costs on the CPU.

One process, one thread, CPU clock, on the full-size random SD 1.5-shaped checkpoint (bench/txt2img.py makes it):
the bytes of the UNet's and text encoder's weights, and one UNet call at 512×512 with CFG (batch 2), with the
weights as loaded and then stored as FP8 (each layer widens its weights for every call). Printed: the CPU flags,
the memory before and after, seconds per call (median) both ways and their ratio, and how far the FP8 call's
output is from the full one (relative L2).

    .venv/bin/python bench/fp8_weights.py [--ckpt FILE] [--size 512] [--calls 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.compiled_backend import seconds_per_call  # noqa: E402
from bench.exact_path import cpu_flags, unet_inputs  # noqa: E402


def weight_bytes(*networks: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for n in networks for t in [*n.parameters(), *n.buffers()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    from bench.txt2img import build, ensure_checkpoint
    from modules.models.weight_storage import WeightStorage

    torch.set_num_threads(1)
    app = build(ensure_checkpoint(args.ckpt), ROOT / "bench" / "results" / "data", None)
    model = app.models.get(None)
    x, t, context = unet_inputs(args.size, context_dim=model.unet.config.cross_attention_dim)
    x, context = x.to(model.dtype), context.to(model.dtype)  # [2, 4, h, w], [2, 77, C]

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return model.unet(x, t, encoder_hidden_states=context, return_dict=False)[0].float()

    print(f"cpu flags: {cpu_flags()}; torch {torch.__version__}; Easel's precision {model.dtype}; one thread, "
          f"CPU clock; UNet call {args.size}x{args.size} CFG batch 2", flush=True)
    full_bytes = weight_bytes(model.unet, model.text_encoder)
    full_s, full_out = seconds_per_call(call, args.calls)
    model.store_weights(WeightStorage(fp8=True))
    fp8_bytes = weight_bytes(model.unet, model.text_encoder)
    fp8_s, fp8_out = seconds_per_call(call, args.calls)
    error = float((fp8_out - full_out).norm() / full_out.norm())
    print(f"UNet + text encoder weights: {full_bytes / 2**20:.0f} MiB as loaded, {fp8_bytes / 2**20:.0f} MiB FP8 "
          f"({fp8_bytes / full_bytes:.2f}×)")
    print(f"UNet call: {full_s:.2f} s as loaded, {fp8_s:.2f} s FP8 ({fp8_s / full_s:.2f}× the time); "
          f"FP8 output's relative L2 difference {error:.4f}")


if __name__ == "__main__":
    main()
