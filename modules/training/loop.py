"""What every training phase shares: a time budget instead of a step count, resumable checkpoints written
atomically every few minutes, a cosine learning rate over the budget, and a console progress bar."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm


@dataclass
class Progress:
    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, across sessions


def lr_factor(fraction: float, warmup: float = 0.03, floor: float = 0.1) -> float:
    """Linear warm-up over the first `warmup` of the budget, then cosine decay to `floor`.

    >>> [round(lr_factor(f), 3) for f in (0.0, 0.03, 0.5, 1.0)]
    [0.0, 1.0, 0.572, 0.1]
    """
    if fraction < warmup:
        return fraction / warmup
    t = min(1.0, (fraction - warmup) / (1 - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def save_atomic(payload: dict, path: Path) -> None:
    """torch.save to a temporary name, then rename: a run killed mid-write keeps its previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict | None:
    """A checkpoint this code wrote itself (full unpickling is fine for our own run folder)."""
    return torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None


def run_for(budget_s: float, progress: Progress, step_fn: Callable[[float], dict], save_fn: Callable[[], None],
            save_every_s: float = 180.0, hooks: tuple[tuple[float, Callable[[], None]], ...] = (),
            log: Callable[[str], None] = print, desc: str = "train",
            stop_requested: Callable[[], bool] = lambda: False) -> Progress:
    """Call `step_fn(fraction_of_budget)` until `budget_s` seconds of training are spent (resuming from
    `progress.elapsed`); save every `save_every_s`, run each hook `(every_s, fn)` on its interval, save at the end.
    `stop_requested()` true (SIGTERM, see `train_builtin`) ends the run early after a save, so a pause loses nothing."""
    last_save = last_log = time.monotonic()
    hook_due = [progress.elapsed + every for every, _ in hooks]
    bar = tqdm(total=int(budget_s), initial=int(min(progress.elapsed, budget_s)), desc=desc, unit="s",
               mininterval=30, dynamic_ncols=False, ncols=100)
    stats: dict = {}
    while progress.elapsed < budget_s and not stop_requested():
        start = time.monotonic()
        stats = step_fn(progress.elapsed / budget_s)
        took = time.monotonic() - start
        progress.step += 1
        progress.elapsed += took
        bar.update(int(progress.elapsed) - bar.n)
        bar.set_postfix(step=progress.step, **{k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
        now = time.monotonic()
        if now - last_log > 60:
            log(f"{desc} step {progress.step} elapsed {progress.elapsed:.0f}s " +
                " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
            last_log = now
        for i, (every, fn) in enumerate(hooks):
            if progress.elapsed >= hook_due[i]:
                fn()
                hook_due[i] = progress.elapsed + every
        if now - last_save > save_every_s:
            save_fn()
            last_save = time.monotonic()
    bar.close()
    save_fn()
    if progress.elapsed < budget_s:
        log(f"{desc} paused at step {progress.step} ({progress.elapsed:.0f}s of {budget_s:.0f}s); run again to resume")
    return progress
