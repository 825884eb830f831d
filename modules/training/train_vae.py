"""Phase 1 and 3 of the recipe: the VAE from scratch, then its decoder alone on frozen latents.

Reconstruction loss is L1 + MSE with the shape's pixels weighted ×5 (a small shape is a few percent of a 64×64
picture; unweighted, the VAE learns backgrounds and blurs shapes — and shape type is read from edges), plus a small
KL term that keeps latents near a unit Gaussian. Phase 3 trains only the decoder (and post_quant_conv) so the
latent space the UNet is learning in stays fixed while edges keep improving.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from diffusers.loaders import single_file_utils as sfu

from modules.training.dataset import shape_masks, to_unit
from modules.training.loop import Progress, load_checkpoint, lr_factor, run_for, save_atomic

SHAPE_WEIGHT = 5.0
KL_WEIGHT = 1e-5


def build_vae(config: dict, seed: int = 0) -> AutoencoderKL:
    torch.manual_seed(seed)
    return AutoencoderKL(**sfu.create_vae_diffusers_config_from_ldm(config, {}))


def recon_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weighted L1 + MSE; pred/target [B, 3, H, W] in [-1, 1], mask [B, 1, H, W]."""
    weight = 1.0 + (SHAPE_WEIGHT - 1.0) * mask  # [B, 1, H, W]
    err = pred.float() - target
    return ((err.abs() + err.square()) * weight).mean() / weight.mean()


class VaeTrainer:
    """Trains a VAE (whole, or decoder only) on uint8 images; checkpoint at `path`."""

    def __init__(self, vae: AutoencoderKL, images: np.ndarray, scenes, path: Path, *, decoder_only: bool = False,
                 latents: tuple[torch.Tensor, torch.Tensor] | None = None, batch: int = 16, lr: float = 1e-3,
                 seed: int = 0, bf16: bool = True, crop: int | None = None):
        self.vae, self.images, self.scenes, self.path = vae, images, scenes, Path(path)
        self.decoder_only, self.latents, self.batch, self.lr, self.bf16 = decoder_only, latents, batch, lr, bf16
        self.crop = crop
        if decoder_only and latents is None:
            raise ValueError("decoder-only training needs the cached latents (mean, std)")
        params = ([*vae.decoder.parameters(), *vae.post_quant_conv.parameters()] if decoder_only
                  else list(vae.parameters()))
        vae.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        self.opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(seed)
        self.progress = Progress()
        self._resume()

    def _resume(self) -> None:
        state = load_checkpoint(self.path)
        if state is None:
            return
        self.vae.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.progress = Progress(**state["progress"])

    def save(self) -> None:
        save_atomic({"model": self.vae.state_dict(), "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                     "progress": vars(self.progress)}, self.path)

    def _crop(self, target: torch.Tensor, mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One random size×size crop for the whole batch: convolutions are local, so crops teach edges at a quarter
        of the cost of whole pictures (the decoder phase then trains on whole pictures)."""
        top, left = torch.randint(0, target.shape[-1] - size + 1, (2,), generator=self.gen).tolist()
        window = (..., slice(top, top + size), slice(left, left + size))
        return target[window], mask[window]

    def _cached_latents(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cached posterior (mean, std) [B, 4, h, w] float32 of the rows `idx` (decoder-only training)."""
        if self.latents is None:  # __init__ refuses decoder-only training without them
            raise ValueError("decoder-only training needs the cached latents (mean, std)")
        return self.latents[0][idx].float(), self.latents[1][idx].float()

    def step(self, fraction: float) -> dict:
        for group in self.opt.param_groups:
            group["lr"] = self.lr * lr_factor(fraction)
        idx = torch.randint(0, len(self.images), (self.batch,), generator=self.gen)
        images = self.images[idx.numpy()]
        target = to_unit(images)  # [B, 3, 64, 64]
        mask = shape_masks(images, [self.scenes[i] for i in idx.tolist()])  # [B, 1, 64, 64]
        if self.crop and not self.decoder_only:
            target, mask = self._crop(target, mask, self.crop)  # [B, 3, c, c], [B, 1, c, c]
        self.vae.train()
        with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
            if self.decoder_only:
                mean, std = self._cached_latents(idx)  # [B, 4, h, w]
                z = mean + std * torch.randn(mean.shape, generator=self.gen)
                kl = torch.zeros(())
            else:
                posterior = self.vae.encode(target).latent_dist
                z = posterior.sample(self.gen)  # [B, 4, h, w]
                kl = posterior.kl().mean() / z[0].numel()
            pred = self.vae.decode(z).sample  # [B, 3, 64, 64]
        rec = recon_loss(pred, target, mask)
        loss = rec + KL_WEIGHT * kl.float()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in self.opt.param_groups for p in g["params"]], 1.0)
        self.opt.step()
        return {"rec": float(rec.detach()), "kl": float(kl.detach())}

    def train(self, budget_s: float, hooks=(), log=print, stop_requested=lambda: False) -> Progress:
        desc = "decoder" if self.decoder_only else "vae"
        return run_for(budget_s, self.progress, self.step, self.save, hooks=hooks, log=log, desc=desc,
                       stop_requested=stop_requested)


@torch.no_grad()
def encode_all(vae: AutoencoderKL, images: np.ndarray, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of every image, float16 [N, 4, h, w] each (the UNet phase samples from them)."""
    vae.eval()
    means, stds = [], []
    for start in range(0, len(images), batch):
        posterior = vae.encode(to_unit(images[start:start + batch])).latent_dist
        means.append(posterior.mean.half())
        stds.append(posterior.std.half())
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def reconstruction_mse(vae: AutoencoderKL, images: np.ndarray) -> float:
    """Mean squared error in [0, 1] units of decode(mean latent) on `images` (held-out pictures)."""
    vae.eval()
    x = to_unit(images)
    y = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
    return float(((y - x) / 2).square().mean())
