"""Held-out accuracy during training: generate pictures for prompts whose colour × shape × background was never
rendered together, read them with the analyzer, and count what came out right. Uses the same denoiser and
DPM++ 2M / Karras sampler code as the app, on the bare networks (no checkpoint round trip needed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.dpmpp import sample_dpmpp_2m
from modules.sampling.schedules import get_sigmas_karras
from modules.training.analyzer import Reading, analyze
from modules.training.scenes import Scene, bench_prompt, held_out_scenes

if TYPE_CHECKING:
    from diffusers import AutoencoderKL

ATTRIBUTES = ("colour", "background", "shape", "position")


@dataclass(frozen=True)
class Networks:
    """What generation needs: UNet, text encoder (compact or full table), VAE, and how to read the text."""

    unet: torch.nn.Module
    text: torch.nn.Module
    vae: AutoencoderKL
    token_ids: Callable[[list[str]], torch.Tensor]  # captions -> ids [B, 77] in the text encoder's own table
    alphas_cumprod: torch.Tensor
    latent_scale: float


@torch.no_grad()
def generate(net: Networks, prompts: list[str], negatives: list[str], seeds: list[int], steps: int = 20,
             cfg_scale: float = 7.0, size: int = 64) -> np.ndarray:
    """uint8 pictures [N, size, size, 3], DPM++ 2M with the Karras schedule, v-prediction."""
    context = net.text(input_ids=net.token_ids(prompts + negatives)).last_hidden_state  # [2N, 77, C]
    n = len(prompts)
    denoiser = DiscreteDenoiser(lambda x, t: net.unet(x, t, encoder_hidden_states=context).sample,
                                net.alphas_cumprod, "v")

    def cfg(x, sigma):
        both = denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]))  # [2N, 4, h, w]
        cond, uncond = both[:n], both[n:]
        return uncond + cfg_scale * (cond - uncond)

    h = size // 2 ** (len(net.vae.config.block_out_channels) - 1)  # latent side (8 for f=8, 16 for f=4)
    noise = torch.stack([torch.randn(4, h, h, generator=torch.Generator().manual_seed(s)) for s in seeds])
    sigmas = get_sigmas_karras(steps, float(denoiser.sigma_min), float(denoiser.sigma_max))
    latents = sample_dpmpp_2m(cfg, noise * sigmas[0], sigmas, disable=True)  # [N, 4, h, w]
    images = net.vae.decode(latents / net.latent_scale).sample  # [N, 3, size, size]
    images = ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return images.permute(0, 2, 3, 1).numpy()


def score(readings: list[Reading], scenes: list[Scene]) -> dict[str, float]:
    """Fraction right per attribute (a picture with no shape found counts as wrong for the shape's attributes).

    >>> s = Scene("red", "star", "blue", "top", "medium", .5, .25, .17)
    >>> score([Reading("blue", "red", "circle", "top")], [s])
    {'colour': 1.0, 'background': 1.0, 'shape': 0.0, 'position': 1.0}
    """
    right = dict.fromkeys(ATTRIBUTES, 0)
    for r, s in zip(readings, scenes):
        right["colour"] += r.colour == s.colour
        right["background"] += r.background == s.background
        right["shape"] += r.shape == s.shape
        right["position"] += r.position == s.position
    return {k: v / max(1, len(scenes)) for k, v in right.items()}


def confusion(readings: list[Reading], scenes: list[Scene], attribute: str) -> dict[str, dict[str, int]]:
    """asked → {read → count} for one attribute (a picture with no shape found reads as "none"): which words the
    model has not told apart yet (the f4 model learned its position words one at a time).

    >>> s = Scene("red", "star", "blue", "top", "medium", .5, .25, .17)
    >>> confusion([Reading("blue", "red", "star", "right"), Reading("blue", None, None, None)], [s, s], "position")
    {'top': {'right': 1, 'none': 1}}
    """
    table: dict[str, dict[str, int]] = {}
    for r, s in zip(readings, scenes):
        row = table.setdefault(getattr(s, attribute), {})
        read = getattr(r, attribute) or "none"
        row[read] = row.get(read, 0) + 1
    return table


def format_confusion(table: dict[str, dict[str, int]]) -> list[str]:
    """One line per asked value, most frequent reading first.

    >>> format_confusion({"top": {"right": 1, "top": 3}})
    ['top: 3/4 correct; read as right 1']
    """
    lines = []
    for asked in sorted(table):
        row, total = table[asked], sum(table[asked].values())
        wrong = ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1]) if k != asked)
        lines.append(f"{asked}: {row.get(asked, 0)}/{total} correct" + (f"; read as {wrong}" if wrong else ""))
    return lines


def held_out_readings(net: Networks, count: int = 48, seed: int = 7,
                      batch: int = 24) -> tuple[list[Reading], list[Scene]]:
    """What the analyzer read from the pictures of `count` held-out prompts (bench phrasing, one seed each)."""
    scenes = held_out_scenes(count, seed)
    readings = []
    for start in range(0, count, batch):
        part = scenes[start:start + batch]
        images = generate(net, [bench_prompt(s) for s in part], [""] * len(part),
                          [seed * 1000 + start + i for i in range(len(part))])
        readings += [analyze(img) for img in images]
    return readings, scenes


def held_out_accuracy(net: Networks, count: int = 48, seed: int = 7, batch: int = 24) -> dict[str, float]:
    """Accuracy on `count` held-out prompts (bench phrasing), one seed each."""
    return score(*held_out_readings(net, count, seed, batch))
