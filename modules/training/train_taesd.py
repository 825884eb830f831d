"""Distil the built-in model's VAE decoder into a tiny TAESD-layout decoder for its live previews.

A1111's TAESD files read SD's f = 8 latents; the built-in model has its own f = 4 latent space, so it gets its own
decoder (same layout, 2 upsamples, width 32). Targets are the full decoder's images of latents of rendered training
pictures (posterior samples, so mid-sampling latents are covered too). Resumable: checkpoints in
training-runs/taesd-builtin/. Prints MSE/PSNR against the full decode on held-out latents, for this decoder and for
"Approx cheap". See docs/previews.md.

    python -m modules.training.train_taesd --minutes 10     # train (or resume) for 10 more minutes of budget
    python -m modules.training.train_taesd --export         # write models/VAE-taesd/easel-builtin-taesd.safetensors
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from diffusers import AutoencoderKL
from diffusers.loaders import single_file_utils as sfu
from safetensors.torch import load_file, save_file

from modules.imaging.preview import latent_preview
from modules.models.taesd import BUILTIN_DECODER, build_decoder, decode
from modules.training.dataset import make_scenes, to_unit
from modules.training.loop import Progress, load_checkpoint, lr_factor, run_for, save_atomic
from modules.training.render import render_many

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "Stable-diffusion" / "easel-builtin.safetensors"
RUN_DIR = ROOT / "training-runs" / "taesd-builtin"
EXPORT = ROOT / "models" / "VAE-taesd" / BUILTIN_DECODER
WIDTH, UPSAMPLES = 32, 2


def load_builtin_vae(checkpoint: Path = CHECKPOINT) -> tuple[AutoencoderKL, float]:
    """The built-in VAE (diffusers layout) and the yaml's scale_factor."""
    config = yaml.safe_load(checkpoint.with_suffix(".yaml").read_text())
    vae_config = sfu.create_vae_diffusers_config_from_ldm(config, {})
    vae = AutoencoderKL(**vae_config)
    vae.load_state_dict(sfu.convert_ldm_vae_checkpoint(load_file(str(checkpoint)), vae_config))
    return vae.eval().requires_grad_(False), float(config["model"]["params"]["scale_factor"])


@torch.no_grad()
def make_pairs(vae: AutoencoderKL, scale: float, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled latents [N, 4, 16, 16] (posterior samples) and the full decoder's RGB [N, 3, 64, 64] in [0, 1]."""
    images = to_unit(render_many(make_scenes(count, seed)))  # [N, 3, 64, 64]
    gen = torch.Generator().manual_seed(seed)
    latents, targets = [], []
    for chunk in images.split(256):
        dist = vae.encode(chunk).latent_dist
        z = dist.mean + dist.std * torch.randn(dist.mean.shape, generator=gen)  # [b, 4, 16, 16]
        latents.append(z * scale)
        targets.append(vae.decode(z).sample.add(1).div(2).clamp(0, 1))  # [b, 3, 64, 64]
    return torch.cat(latents), torch.cat(targets)


def psnr(mse: float) -> float:
    """PSNR in dB of images in [0, 1].

    >>> round(psnr(0.01), 1)
    20.0
    """
    return 10 * math.log10(1 / max(mse, 1e-12))


@torch.no_grad()
def compare(decoder: torch.nn.Module, latents: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """MSE and PSNR of this decoder and of "Approx cheap" (upsampled to full size) against the full decode."""
    ours = F.mse_loss(decode(decoder, latents), targets).item()
    cheap = torch.stack([torch.from_numpy(np.array(latent_preview(z[None]))).permute(2, 0, 1)
                         for z in latents]).float() / 255  # [N, 3, 16, 16]
    cheap = F.interpolate(cheap, size=targets.shape[-2:], mode="nearest")  # [N, 3, 64, 64]
    cheap_mse = F.mse_loss(cheap, targets).item()
    return {"mse": ours, "psnr": psnr(ours), "cheap_mse": cheap_mse, "cheap_psnr": psnr(cheap_mse)}


def train(minutes: float, count: int = 4000, batch: int = 64, lr: float = 2e-3) -> None:
    torch.manual_seed(0)
    vae, scale = load_builtin_vae()
    latents, targets = make_pairs(vae, scale, count, seed=1)
    held_latents, held_targets = make_pairs(vae, scale, 256, seed=99)
    decoder = build_decoder(4, UPSAMPLES, WIDTH)
    opt = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=0.0)
    progress, path = Progress(), RUN_DIR / "last.pt"
    state = load_checkpoint(path)
    budget = minutes * 60
    if state is not None:
        decoder.load_state_dict(state["decoder"])
        opt.load_state_dict(state["opt"])
        progress = state["progress"]
        budget += progress.elapsed
    gen = torch.Generator().manual_seed(progress.step)

    def step(fraction: float) -> dict:
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(fraction)
        idx = torch.randint(len(latents), (batch,), generator=gen)
        pred = decoder(latents[idx])  # [b, 3, 64, 64]
        loss = F.mse_loss(pred, targets[idx]) + 0.5 * (pred - targets[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def save() -> None:
        save_atomic({"decoder": decoder.state_dict(), "opt": opt.state_dict(), "progress": progress}, path)

    run_for(budget, progress, step, save, save_every_s=60, desc="taesd-builtin")
    print({k: round(v, 5) for k, v in compare(decoder.eval(), held_latents, held_targets).items()})


def export(path: Path = EXPORT) -> Path:
    """The trained decoder as half-precision safetensors (index keys, loadable by modules/models/taesd.py)."""
    state = load_checkpoint(RUN_DIR / "last.pt")
    if state is None:
        raise SystemExit(f"no run at {RUN_DIR}; train first")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in state["decoder"].items()}, str(path))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget to add (minutes of CPU)")
    parser.add_argument("--export", action="store_true", help="write the shipped file from the last checkpoint")
    args = parser.parse_args(argv)
    export() if args.export else train(args.minutes)


if __name__ == "__main__":
    main()
