"""Benchmark: a full-size SDXL checkpoint (random fp16 weights, 3.47 B parameters, 6.9 GB) in Easel and in diffusers.

For each side, in a fresh process: load time, peak RSS during the load against the weights' in-memory size
(Easel's goal: the load adds at most 1.3× that size), and the seconds of one 1024×1024 sampling step with CFG in
the default CPU precision: Easel's UNet call on the prompt and negative prompt (batch 2), and diffusers'
`StableDiffusionXLPipeline` running one step with guidance on the same file (its own CFG batch of 2, prompts encoded
beforehand); the last line gives Easel's times over diffusers'. Needs about 18 GB of free memory (one side at a
time). Usage:

    .venv/bin/python bench/sdxl_load.py [--ckpt FILE] [--side easel|diffusers|both]

Without --ckpt the random SDXL file is written once to bench/results/sdxl-random-fp16/ (ignored by git).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.txt2img import reset_peak_rss, rss_mb  # noqa: E402

PROMPT = "a photograph of an astronaut riding a horse"


def ensure_sdxl_checkpoint(path: Path | None) -> Path:
    if path:
        return path
    out = ROOT / "bench" / "results" / "sdxl-random-fp16"
    found = sorted(out.glob("*.safetensors")) if out.exists() else []
    if not found:
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_full_size_checkpoint.py"), str(out),
                        "--shape", "sdxl"], check=True)
        found = sorted(out.glob("*.safetensors"))
    return found[0]


def unet_step_seconds(call, rounds: int = 1, skip: bool = False, warmup: bool = False) -> float:
    """The faster of `rounds` timed calls (after one warm-up call with `warmup`: a 1024² step takes minutes on a
    few CPU cores, so its first-call overheads are noise and the default skips it); NaN if `skip`."""
    if skip:
        return float("nan")
    if warmup:
        call()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def easel_side(ckpt: Path, skip_step: bool = False) -> dict:
    import torch

    from bench.txt2img import build
    from modules.models import loader  # noqa: F401  (diffusers' import time is not load time; diffusers' side too)

    app = build(ckpt, ROOT / "bench" / "results" / "data-sdxl", None)
    before = rss_mb("VmRSS")
    reset_peak_rss()
    start = time.perf_counter()
    model = app.models.get(None)
    load = time.perf_counter() - start
    peak = rss_mb("VmHWM")
    cond = model.encode_prompt([PROMPT, ""], 1)
    x = torch.randn(2, 4, 128, 128)  # [cond + uncond, 4, 1024/8, 1024/8]
    context = torch.cat([c.cross_attn for c in cond])  # [2, 77, 2048]
    pooled = torch.cat([c.pooled for c in cond])  # [2, 1280]
    added = {k: torch.cat([c.added[k] for c in cond]) for k in cond[0].added}
    step = unet_step_seconds(lambda: model.unet_forward(x, torch.tensor([500.0, 500.0]), context, pooled=pooled,
                                                        added=added), skip=skip_step)
    return {"side": "easel", "dtype": str(model.dtype), "load_s": load, "rss_before_mb": before, "peak_mb": peak,
            "weights_mb": model.memory_bytes() / 2**20, "step_s": step, "threads": torch.get_num_threads()}


def diffusers_config_folder(root: Path) -> Path:
    """Full-size component configs for `from_single_file` (no weights, no hub)."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from diffusers.loaders import single_file_utils as sfu
    from transformers import CLIPTextConfig, CLIPTokenizer

    from modules.models.components import unet_config
    from modules.models.engines.sdxl import BIG_G_TEXT
    from modules.models.model_config import load_spec

    configs = ROOT / "configs"
    spec = load_spec(configs / "sd_xl_base.yaml")
    with init_empty_weights():
        UNet2DConditionModel(**unet_config(spec, added_time_ids=True)).save_config(root / "unet")
        AutoencoderKL(**sfu.create_vae_diffusers_config_from_ldm(spec.original_config, {},
                                                                 scaling_factor=spec.scale_factor)
                      ).save_config(root / "vae")
    EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").save_config(
        root / "scheduler")
    CLIPTextConfig(**json.loads((configs / "clip-vit-large-patch14" / "config.json").read_text())).save_pretrained(
        root / "text_encoder")
    CLIPTextConfig(**BIG_G_TEXT).save_pretrained(root / "text_encoder_2")
    CLIPTokenizer.from_pretrained(configs / "clip-tokenizer").save_pretrained(root / "tokenizer")
    CLIPTokenizer.from_pretrained(configs / "clip-tokenizer", pad_token="!").save_pretrained(root / "tokenizer_2")
    index = {"_class_name": "StableDiffusionXLPipeline", "feature_extractor": [None, None],
             "image_encoder": [None, None], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    (root / "model_index.json").write_text(json.dumps(index))
    return root


def diffusers_side(ckpt: Path, skip_step: bool = False) -> dict:
    import torch
    from diffusers import StableDiffusionXLPipeline

    from modules.models.devices import DeviceFlags, choose_device_config, detect_hardware

    dtype = choose_device_config(DeviceFlags(), detect_hardware()).dtype  # what Easel picks on this machine
    folder = diffusers_config_folder(ROOT / "bench" / "results" / "sdxl-diffusers-config")
    before = rss_mb("VmRSS")
    reset_peak_rss()
    start = time.perf_counter()
    pipe = StableDiffusionXLPipeline.from_single_file(str(ckpt), config=str(folder), local_files_only=True,
                                                      torch_dtype=dtype)
    load = time.perf_counter() - start
    peak = rss_mb("VmHWM")
    weights = sum(t.numel() * t.element_size() for m in (pipe.unet, pipe.vae, pipe.text_encoder, pipe.text_encoder_2)
                  for t in [*m.parameters(), *m.buffers()])
    pipe.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        embeds, negative, pooled, negative_pooled = pipe.encode_prompt(PROMPT, device="cpu", negative_prompt="")
    noise = torch.randn((1, 4, 128, 128), generator=torch.Generator().manual_seed(1), dtype=dtype)  # 1024² latent

    def one_step():  # one Euler step with guidance: diffusers' own CFG batch [2, 4, 128, 128] through the UNet
        with torch.inference_mode():
            pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, pooled_prompt_embeds=pooled,
                 negative_pooled_prompt_embeds=negative_pooled, latents=noise, num_inference_steps=1,
                 guidance_scale=7.0, height=1024, width=1024, output_type="latent")

    step = unet_step_seconds(one_step, skip=skip_step)
    return {"side": "diffusers", "dtype": str(dtype), "load_s": load, "rss_before_mb": before, "peak_mb": peak,
            "weights_mb": weights / 2**20, "step_s": step, "threads": torch.get_num_threads()}


def report(row: dict) -> str:
    added = row["peak_mb"] - row["rss_before_mb"]
    step = "not timed" if row["step_s"] != row["step_s"] else f"{row['step_s']:.1f} s"  # NaN: --skip-step
    return (f"{row['side']:9s} {row['dtype']:15s} load {row['load_s']:6.1f} s  peak RSS {row['peak_mb'] / 1024:5.1f} "
            f"GiB (+{added / 1024:.1f} GiB over {row['rss_before_mb'] / 1024:.1f} before; weights "
            f"{row['weights_mb'] / 1024:.1f} GiB, ratio {added / row['weights_mb']:.2f}x)  "
            f"1024² CFG step (batch 2) {step}  threads {row['threads']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--side", choices=("easel", "diffusers", "both"), default="both")
    parser.add_argument("--skip-step", action="store_true", help="time the load only (a 1024² step takes minutes "
                        "on a few CPU cores; both sides run the same diffusers UNet)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    ckpt = ensure_sdxl_checkpoint(args.ckpt)
    if args.child:
        print(json.dumps((easel_side if args.side == "easel" else diffusers_side)(ckpt, args.skip_step)))
        return
    sides = ("easel", "diffusers") if args.side == "both" else (args.side,)
    print(f"{ckpt} ({ckpt.stat().st_size / 1e9:.2f} GB)")
    rows = {}
    for side in sides:  # one process each: peak RSS and allocator state of one do not leak into the other
        extra = ["--skip-step"] if args.skip_step else []
        out = subprocess.run([sys.executable, __file__, "--ckpt", str(ckpt), "--side", side, "--child", *extra],
                             capture_output=True, text=True)
        if out.returncode:
            print(f"{side}: failed\n{out.stderr[-2000:]}")
            continue
        rows[side] = json.loads(out.stdout.strip().splitlines()[-1])
        print(report(rows[side]))
    if len(rows) == 2:
        print(ratios(rows["easel"], rows["diffusers"]))


def ratios(easel: dict, diffusers: dict) -> str:
    """Easel over diffusers: load time, memory the load added, and the 1024² CFG step (NaN steps: not timed).

    >>> row = {"load_s": 10.0, "peak_mb": 300.0, "rss_before_mb": 100.0, "step_s": 4.0}
    >>> ratios(row, {**row, "load_s": 20.0, "step_s": float("nan")})
    'easel / diffusers: load 0.50x, memory added 1.00x, 1024² CFG step not timed'
    """
    added = [(r["peak_mb"] - r["rss_before_mb"]) for r in (easel, diffusers)]
    step = easel["step_s"] / diffusers["step_s"]
    shown = "not timed" if step != step else f"{step:.2f}x"
    return (f"easel / diffusers: load {easel['load_s'] / diffusers['load_s']:.2f}x, memory added "
            f"{added[0] / added[1]:.2f}x, 1024² CFG step {shown}")


if __name__ == "__main__":
    main()
