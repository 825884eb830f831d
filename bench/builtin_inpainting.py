"""Inpainting with the built-in model and its inpainting variant, through the app as a user runs it.

    .venv/bin/python bench/builtin_inpainting.py [--ckpt-dir DIR] [--seeds 100] [--prompts 50]

For each seed a training-world picture (one shape on a background) is rendered and part of it repainted at
denoising strength 1 ("original" fill, whole picture, DPM++ 2M, 20 steps), two ways:
- replace: the shape is masked with a 6-pixel margin and the prompt asks for another colour and shape at the same
  place on the same background: how often the analyzer reads what was asked;
- complete: the right half of the shape is masked and the prompt is empty: how often the picture still shows the
  original shape (colour, type, place) — only what is left of it says what it was.
Printed per model, with the largest change outside the mask and its blur. Then the variant's txt2img accuracy on
held-out prompts (a 9-channel model also makes pictures from text).
`--ckpt-dir` (default: the shipped models) must hold easel-builtin and easel-builtin-inpainting.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402

import webui  # noqa: E402
from bench.scratch import temporary_data_dir  # noqa: E402
from bench.builtin_quality import held_out  # noqa: E402
from modules import cli  # noqa: E402
from modules.pipeline.img2img_request import Img2ImgRequest  # noqa: E402
from modules.training.analyzer import analyze  # noqa: E402
from modules.training.evaluate import score  # noqa: E402
from modules.training.render import render  # noqa: E402
from modules.training.scenes import bench_prompt, random_scene  # noqa: E402
from modules.training.train_inpaint import shape_box  # noqa: E402
from modules.training.world import COLOURS, SHAPES  # noqa: E402

SIZE, STEPS, SAMPLER, MARGIN = 64, 20, "DPM++ 2M", 6
MODELS = ("easel-builtin", "easel-builtin-inpainting")


def shape_box_mask(scene, size: int = SIZE, margin: int = MARGIN, right_half: bool = False) -> Image.Image:
    """White over the shape's box plus `margin` pixels (only its right half: from the shape's centre), black
    elsewhere."""
    left, top, right, bottom = shape_box(scene, size, (margin,) * 4)
    left = int(scene.cx * size) if right_half else max(0, left)
    mask = Image.new("L", (size, size))
    mask.paste(255, (left, max(0, top), min(size, right), min(size, bottom)))
    return mask


def cases(count: int, seed: int = 4242):
    """(source scene, asked scene): another colour and shape, same background, position and size."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        source = random_scene(rng)
        colour = rng.choice([c for c in COLOURS if c not in (source.colour, source.background)])
        shape = rng.choice([s for s in SHAPES if s != source.shape])
        out.append((source, replace(source, colour=colour, shape=shape)))
    return out


def repaint(app, model: str, count: int, complete: bool = False) -> tuple[dict[str, float], int]:
    """Accuracy against the asked scene (replace) or the original one (complete), and the largest change outside."""
    readings, asked, outside = [], [], 0
    for i, (source, target) in enumerate(cases(count)):
        target = source if complete else target
        picture, mask = Image.fromarray(render(source)), shape_box_mask(source, right_half=complete)
        req = Img2ImgRequest(prompt="" if complete else bench_prompt(target), init_images=(picture,), mask=mask,
                             denoising_strength=1.0,
                             inpainting_fill=1, inpaint_full_res=False, seed=50_000 + i, steps=STEPS,
                             sampler_name=SAMPLER, width=SIZE, height=SIZE,
                             override_settings={"sd_model_checkpoint": model})
        out = app.img2img(req).images[0]
        readings.append(analyze(out))
        asked.append(target)
        keep = np.asarray(mask.filter(ImageFilter.MaxFilter(21))) == 0  # outside the mask and its blur (σ 4)
        diff = np.abs(np.asarray(out).astype(int) - np.asarray(picture).astype(int)).max(axis=2)  # [H, W]
        outside = max(outside, int(diff[keep].max()) if keep.any() else 0)
    return score(readings, asked), outside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt-dir", default=None, help="folder with both files (default: the shipped ones)")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--prompts", type=int, default=50)
    args = parser.parse_args()
    flags = ["--data-dir", temporary_data_dir(), "--nowebui"]
    app = webui.build_app(cli.parse_args(flags + (["--ckpt-dir", args.ckpt_dir] if args.ckpt_dir else []), env={}))
    for complete, title in ((False, "replace the masked shape by another colour and shape"),
                            (True, "complete the shape's masked right half, empty prompt")):
        print(f"{title} ({args.seeds} seeds, strength 1, {SAMPLER}, {STEPS} steps):")
        for model in MODELS:
            start = time.perf_counter()
            acc, outside = repaint(app, model, args.seeds, complete)
            print(f"  {model:<26} " + " ".join(f"{k} {v:5.1%}" for k, v in acc.items()) +
                  f"; largest change outside the mask {outside}/255 ({time.perf_counter() - start:.0f}s)")
    acc, _ = held_out(app, args.prompts, override_settings={"sd_model_checkpoint": MODELS[1]})
    print(f"{MODELS[1]} txt2img, {args.prompts} held-out prompts: " +
          " ".join(f"{k} {v:.0%}" for k, v in acc.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
