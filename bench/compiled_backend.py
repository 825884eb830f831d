"""Benchmark: would a compiled backend pay? torch.compile (inductor) and OpenVINO against Easel's eager UNet.

One process, one thread, CPU clock, on the full-size random SD 1.5-shaped checkpoint (bench/txt2img.py makes it):
one UNet call at 512×512 with CFG (batch 2). Printed per backend: the time to compile, seconds per call (median),
the speed-up over eager in the same precision, and the largest difference of its output from eager float32.
A backend is worth shipping only at ≥ 1.3× on both CPU kinds this project runs on (Zen 3 float32, Zen 4 bf16):
docs/performance.md, "Compiled backends".

    .venv/bin/python bench/compiled_backend.py [--ckpt FILE] [--size 512] [--calls 3]
        [--backends inductor,openvino] [--openvino-site DIR]

OpenVINO is not one of Easel's packages: install it in a venv of its own (`python3 -m venv /tmp/ov &&
/tmp/ov/bin/pip install openvino`) and pass that venv's site-packages as --openvino-site (it is appended to
sys.path, so torch stays Easel's).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers.models.attention_processor import AttnProcessor2_0  # noqa: E402

from bench.exact_path import cpu_flags, unet_inputs  # noqa: E402


class PlainUnet(torch.nn.Module):
    """The UNet as a function of three tensors (what tracers and converters want)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, x, t, context):
        return self.unet(x, t, encoder_hidden_states=context, return_dict=False)[0]


def seconds_per_call(call: Callable[[], torch.Tensor], calls: int) -> tuple[float, torch.Tensor]:
    """(median CPU seconds of `calls` timed calls after one warm-up, the last output)."""
    out = call()
    times = []
    for _ in range(calls):
        start = time.process_time()
        out = call()
        times.append(time.process_time() - start)
    return statistics.median(times), out


def eager(unet, dtype: torch.dtype, inputs) -> Callable[[], torch.Tensor]:
    x, t, context = inputs
    net = PlainUnet(unet).eval()

    def call():
        with torch.inference_mode():
            return net(x.to(dtype), t, context.to(dtype)).float()
    return call


def inductor(unet, dtype: torch.dtype, inputs) -> Callable[[], torch.Tensor]:
    """torch.compile with inductor's freezing (constant weights folded and pre-packed for oneDNN)."""
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return eager(torch.compile(unet), dtype, inputs)


def openvino(unet32, dtype: torch.dtype, inputs) -> Callable[[], torch.Tensor]:
    """OpenVINO's CPU plugin on the float32 graph, computing in bf16 where Easel does (its inference precision)."""
    import openvino as ov  # type: ignore[import-not-found]  # optional, see --openvino-site

    x, t, context = inputs
    with torch.no_grad():
        graph = ov.convert_model(PlainUnet(unet32).eval(), example_input=(x, t, context))
    precision = "bf16" if dtype == torch.bfloat16 else "f32"
    compiled = ov.Core().compile_model(graph, "CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": precision,
                                                     "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    arrays = [x.numpy(), t.numpy(), context.numpy()]
    return lambda: torch.from_numpy(request.infer(arrays)[0].copy())


BACKENDS = {"inductor": inductor, "openvino": openvino}


def stock_attention_copy(unet):
    """A copy of `unet` with diffusers' attention processor: the compilers trace torch's SDPA, not the TorchScript
    function of Easel's bf16 attention (modules/models/onednn_attention.py)."""
    stock = copy.deepcopy(unet)
    stock.set_attn_processor(AttnProcessor2_0())
    return stock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--backends", default="inductor,openvino")
    parser.add_argument("--openvino-site", type=Path, help="site-packages of a venv that has openvino")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise SystemExit(f"--backends: unknown {unknown}; choose among {sorted(BACKENDS)}")
    if args.openvino_site:
        sys.path.append(str(args.openvino_site))
    from bench.txt2img import build, ensure_checkpoint

    torch.set_num_threads(1)
    app = build(ensure_checkpoint(args.ckpt), ROOT / "bench" / "results" / "data", None)
    model = app.models.get(None)
    dtype = model.dtype
    inputs = unet_inputs(args.size, context_dim=model.unet.config.cross_attention_dim)
    print(f"cpu flags: {cpu_flags()}; torch {torch.__version__}; Easel's precision {dtype}; one thread, CPU clock; "
          f"UNet call {args.size}x{args.size} CFG batch 2", flush=True)
    unet32 = copy.deepcopy(model.unet).float()
    unet32.set_attn_processor(AttnProcessor2_0())  # Easel's float32 attention (onednn_attention is for bf16 only)
    ref_time, reference = seconds_per_call(eager(unet32, torch.float32, inputs), args.calls)
    base_time = ref_time
    print(f"  eager float32: {ref_time:.2f} s per call", flush=True)
    if dtype != torch.float32:
        base_time, out = seconds_per_call(eager(model.unet, dtype, inputs), args.calls)
        print(f"  eager {dtype}: {base_time:.2f} s per call (the baseline; differs from float32 by "
              f"{(out - reference).abs().max():.2g}, outputs up to {reference.abs().max():.2g})", flush=True)
    # Easel's precision, and float32 too where that differs (the path of a CPU without bf16, e.g. Zen 3).
    legs = [(dtype, base_time)] + ([(torch.float32, ref_time)] if dtype != torch.float32 else [])
    for name in backends:
        for precision, eager_time in legs:
            start = time.perf_counter()
            try:
                net = unet32 if name == "openvino" or precision == torch.float32 else stock_attention_copy(model.unet)
                call = BACKENDS[name](net, precision, inputs)
                call()  # inductor compiles on the first call
            except ImportError as error:
                print(f"  {name}: not installed ({error}); see --openvino-site", flush=True)
                break
            built = time.perf_counter() - start
            took, out = seconds_per_call(call, args.calls)
            print(f"  {name} ({precision}): compile {built:.0f} s wall, {took:.2f} s per call, "
                  f"{eager_time / took:.2f}x eager {precision} (goal >= 1.3), differs from eager float32 by "
                  f"{(out - reference).abs().max():.2g}", flush=True)
            torch._dynamo.reset()


if __name__ == "__main__":
    main()
