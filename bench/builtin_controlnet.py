"""Bench of the built-in ControlNet (models/ControlNet/easel-builtin-outline, card beside it), through the app as a
user runs it: txt2img 64×64, DPM++ 2M, 20 steps, one unit (preprocessor `none`, weight 1, control mode Balanced as
the extension's default; `--control-mode` measures the other two).

    .venv/bin/python bench/builtin_controlnet.py [--seeds 200] [--compare-seeds 50] [--control outline|scribble]
        [--control-mode Balanced|"My prompt is more important"|"ControlNet is more important"]

On held-out scenes (colour × shape × background never rendered together in training; one seed each), the control
image is the shape's outline (or a scribble of it) at the scene's place, and the prompt names only the colours
("a red shape on a blue background"). Printed:
1. with the unit: the shape is where the control puts it (goal ≥ 90 %), of the control's type (goal ≥ 80 %), and
   of the prompt's colours;
2. without the unit, the same prompt: how often the shape lands where the control would have put it (chance);
3. without the unit, a prompt naming another place and shape than the control's: how often the picture follows the
   prompt (the model alone follows only the prompt);
4. with the unit and that conflicting prompt: how often the control still decides place and type.
2-4 run on the first `--compare-seeds` scenes (each picture takes seconds on a CPU).
Runs on a fresh temporary data dir, so the built-in model is the one selected, and saves nothing.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
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
from modules.controlnet.units import ControlMode, ControlUnit  # noqa: E402
from modules.pipeline.request import GenerationRequest  # noqa: E402
from modules.training.analyzer import analyze  # noqa: E402
from modules.training.controlnet_data import bench_caption, control_image  # noqa: E402
from modules.training.evaluate import confusion, format_confusion  # noqa: E402
from modules.training.scenes import POSITION_WORDS, held_out_scenes  # noqa: E402
from modules.training.world import POSITIONS, SHAPES  # noqa: E402

SIZE, STEPS, SAMPLER = 64, 20, "DPM++ 2M"
MODEL = "easel-builtin-outline"
GOALS = {"position": 0.90, "shape": 0.80}


def cpu_flags() -> str:
    """The CPU model and whether it has bf16 (the numbers differ between the two CPU kinds this project runs on)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    return f"{model}; avx512_bf16 {'yes' if 'avx512_bf16' in text else 'no'}; torch threads " + subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"], capture_output=True,
        text=True).stdout.strip()


def other(choices, value, rng: random.Random):
    return rng.choice([c for c in choices if c != value])


def run(app, prompt: str, seed: int, unit: ControlUnit | None):
    units = () if unit is None else (unit,)
    req = GenerationRequest(prompt=prompt, seed=seed, steps=STEPS, sampler_name=SAMPLER, width=SIZE, height=SIZE,
                            controlnet_units=units)
    return analyze(app.txt2img(req).images[0])


def rate(pairs) -> str:
    pairs = list(pairs)
    return f"{sum(pairs) / max(1, len(pairs)):6.1%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200, help="held-out scenes, one seed each (default 200)")
    parser.add_argument("--compare-seeds", type=int, default=50, help="scenes for measures 2-4 (default 50)")
    parser.add_argument("--control", choices=("outline", "scribble"), default="outline")
    parser.add_argument("--model", default=MODEL, help="the ControlNet's listed name")
    parser.add_argument("--control-mode", default=ControlMode.BALANCED.value, choices=[m.value for m in ControlMode])
    args = parser.parse_args()
    data = temporary_data_dir()
    app = webui.build_app(cli.parse_args(["--data-dir", data, "--nowebui"], env={}))
    print(f"model: {app.models.get().checkpoint.title}; ControlNet: "
          f"{app.services.controlnets.find(args.model, 'model').name}, control mode {args.control_mode!r}; "
          f"CPU: {cpu_flags()}")
    scenes = held_out_scenes(args.seeds, seed=2026)
    rng = random.Random(2026)
    rows = {k: [] for k in ("with", "without", "prompt_only", "conflict")}
    start = time.perf_counter()
    for i, scene in enumerate(scenes):
        control = Image.fromarray(control_image(scene, args.control, random.Random(i)))
        unit = ControlUnit(enabled=True, module="none", model=args.model, image=control,
                           control_mode=ControlMode(args.control_mode))
        seed = 40_000 + i
        where, shape = other(POSITIONS, scene.position, rng), other(SHAPES, scene.shape, rng)
        conflicting = (f"a {scene.colour} {shape} {POSITION_WORDS[where][0]} on a {scene.background} background")
        rows["with"].append(run(app, bench_caption(scene), seed, unit))
        if i >= args.compare_seeds:
            continue
        rows["without"].append(run(app, bench_caption(scene), seed, None))
        rows["prompt_only"].append((run(app, conflicting, seed, None), where, shape))
        rows["conflict"].append((run(app, conflicting, seed, unit), where, shape))
    took = time.perf_counter() - start
    pictures = args.seeds + 3 * min(args.seeds, args.compare_seeds)
    print(f"{args.seeds} held-out scenes, {args.control} control, {SAMPLER} {STEPS} steps ({took:.0f}s, "
          f"{took / pictures:.2f}s per picture):")
    with_unit = rows["with"]
    for key, goal in GOALS.items():
        value = sum(getattr(r, key) == getattr(s, key) for r, s in zip(with_unit, scenes)) / len(scenes)
        print(f"  1. with the unit, colour-only prompt: {key} of the control {value:6.1%} (goal ≥ {goal:.0%}) "
              f"{'ok' if value >= goal else 'BELOW'}")
    print("     shape colour of the prompt " + rate(r.colour == s.colour for r, s in zip(with_unit, scenes)) +
          ", background " + rate(r.background == s.background for r, s in zip(with_unit, scenes)))
    for key in ("shape", "position"):
        print(f"     {key} control → read: " + " | ".join(format_confusion(confusion(with_unit, scenes, key))))
    compared = scenes[:args.compare_seeds]
    print(f"  on the first {len(compared)} scenes:")
    print("  2. without the unit, the same prompt: position where the control would put it " +
          rate(r.position == s.position for r, s in zip(rows["without"], compared)) + ", shape " +
          rate(r.shape == s.shape for r, s in zip(rows["without"], compared)) + " (chance: 20 % / 25 %)")
    print("  3. without the unit, a prompt naming another place and shape: position of the prompt " +
          rate(r.position == w for r, w, _ in rows["prompt_only"]) + ", shape of the prompt " +
          rate(r.shape == k for r, _, k in rows["prompt_only"]) + "; position of the control " +
          rate(r.position == s.position for (r, _, _), s in zip(rows["prompt_only"], compared)))
    conflict = rows["conflict"]
    print("  4. with the unit and that prompt: position of the control " +
          rate(r.position == s.position for (r, _, _), s in zip(conflict, compared)) + ", shape of the control " +
          rate(r.shape == s.shape for (r, _, _), s in zip(conflict, compared)) + "; position of the prompt " +
          rate(r.position == w for r, w, _ in conflict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
