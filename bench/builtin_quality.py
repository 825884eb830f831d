"""Quality bench of the built-in model (targets in its model card,
easel-builtin.md), through the app and the API as a user runs them.

    .venv/bin/python bench/builtin_quality.py [--ckpt FILE] [--prompts 200] [--seeds 100] [--img2img-seeds 50]

Prints: held-out accuracy (shape colour, background, shape type, position) on prompts whose colour × shape ×
background was never rendered together in training, default UI sampler (DPM++ 2M, Automatic schedule) at 20
steps; the red-shape rate of "a circle" with and without the negative prompt "red"; img2img at strength 0.5 of a
rendered red square to "a blue square" (blue and same position); the time of one txt2img at the native size through
POST /sdapi/v1/txt2img; and what an out-of-world prompt gives. Runs on a fresh temporary data dir, so the built-in
model is the one selected (first run), and saves nothing.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PIL import Image  # noqa: E402

import webui  # noqa: E402
from bench.scratch import temporary_data_dir  # noqa: E402
from modules import cli  # noqa: E402
from modules.pipeline.img2img_request import Img2ImgRequest  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402
from modules.training.analyzer import analyze  # noqa: E402
from modules.training.evaluate import confusion, format_confusion, score  # noqa: E402
from modules.training.render import render  # noqa: E402
from modules.training.scenes import Scene, bench_prompt, held_out_scenes  # noqa: E402

SIZE, STEPS, SAMPLER = 64, 20, "DPM++ 2M"  # the UI's defaults at the model's native size
TARGETS = {"colour": 0.90, "background": 0.90, "shape": 0.75, "position": 0.75}


def request(prompt: str, seed: int, batch: int = 1, negative: str = "", **kw) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, negative_prompt=negative, seed=seed, batch_size=batch, steps=STEPS,
                             sampler_name=SAMPLER, width=SIZE, height=SIZE, **kw)


def held_out(app, count: int, **kw) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Accuracy per attribute, and for shape and position which value was read for which asked one (`kw`: more
    request fields, e.g. override_settings)."""
    scenes = held_out_scenes(count, seed=2026)
    readings = [analyze(app.txt2img(request(bench_prompt(s), seed=10_000 + i, **kw)).images[0])
                for i, s in enumerate(scenes)]
    return score(readings, scenes), {key: format_confusion(confusion(readings, scenes, key))
                                     for key in ("shape", "position")}


def red_rate(app, seeds: int, negative: str) -> float:
    batch = 10
    images = []
    for start in range(0, seeds, batch):
        images += app.txt2img(request("a circle", seed=20_000 + start, batch=batch, negative=negative)).images
    return sum(analyze(im).colour == "red" for im in images) / len(images)


def img2img_recolour(app, seeds: int) -> tuple[float, float]:
    """Fraction of seeds whose shape turned blue, and fraction that also kept its position."""
    scene = Scene("red", "square", "white", "left", "medium", 0.25, 0.5, 0.18)
    source = Image.fromarray(render(scene))
    blue = kept = 0
    for i in range(seeds):
        req = Img2ImgRequest(prompt="a blue square", init_images=(source,), denoising_strength=0.5, seed=30_000 + i,
                             steps=STEPS, sampler_name=SAMPLER, width=SIZE, height=SIZE)
        reading = analyze(app.img2img(req).images[0])
        blue += reading.colour == "blue"
        kept += reading.colour == "blue" and reading.position == scene.position
    return blue / seeds, kept / seeds


def api_seconds(app, runs: int = 5) -> float:
    from fastapi.testclient import TestClient

    client = TestClient(webui.create_server(app))
    body = {"prompt": "a yellow star in the middle on a blue background", "steps": STEPS, "sampler_name": SAMPLER,
            "width": SIZE, "height": SIZE, "seed": 1}
    assert client.post("/sdapi/v1/txt2img", json=body).status_code == 200  # warm-up (loads the model)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.post("/sdapi/v1/txt2img", json=body)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0])))  # a real picture came back
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=None, help="checkpoint to bench (default: the built-in model)")
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--img2img-seeds", type=int, default=50)
    args = parser.parse_args()
    data = temporary_data_dir()
    flags = ["--data-dir", data, "--nowebui", *(["--ckpt", args.ckpt] if args.ckpt else [])]
    app = webui.build_app(cli.parse_args(flags, env={}))
    note = app.models.builtin_note()
    print(f"model: {app.models.get().checkpoint.title}" + (" (first run: built-in model selected)" if note else ""))

    start = time.perf_counter()
    acc, confusions = held_out(app, args.prompts)
    print(f"held-out prompts ({args.prompts}, {SAMPLER}, {STEPS} steps, {time.perf_counter() - start:.0f}s):")
    for key, value in acc.items():
        print(f"  {key:<10} {value:6.1%}  (target ≥ {TARGETS[key]:.0%}) {'ok' if value >= TARGETS[key] else 'BELOW'}")
    for key, lines in confusions.items():
        print(f"  {key} asked → read: " + " | ".join(lines))
    plain, negated = red_rate(app, args.seeds, ""), red_rate(app, args.seeds, "red")
    print(f"negative prompt: 'a circle' red in {plain:.0%} of {args.seeds} seeds; with negative 'red' {negated:.0%} "
          f"(target ≤ 5%) {'ok' if negated <= 0.05 else 'BELOW'}")
    blue, kept = img2img_recolour(app, args.img2img_seeds)
    print(f"img2img 0.5 red square → 'a blue square': blue {blue:.0%}, blue at the same position {kept:.0%} of "
          f"{args.img2img_seeds} seeds (target ≥ 80%) {'ok' if kept >= 0.8 else 'BELOW'}")
    seconds = api_seconds(app)
    print(f"API txt2img {SIZE}×{SIZE}, {SAMPLER}, {STEPS} steps: {seconds:.2f} s median of 5 (target < 2 s) "
          f"{'ok' if seconds < 2 else 'BELOW'}")
    cat = analyze(app.txt2img(request("a photo of a cat", seed=5)).images[0])
    print(f"out-of-world prompt 'a photo of a cat': an image, read as {cat.colour} {cat.shape} on {cat.background}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
