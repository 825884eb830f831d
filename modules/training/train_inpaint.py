"""The inpainting variant: the trained UNet fine-tuned with 9 input channels on random masks.

As SD 1.5's inpainting model was made (Rombach et al. 2022, §4.3; runwayml sd-v1-5-inpainting): the UNet's first
convolution gains 5 input channels, zero-initialised so that the fine-tune starts from the text-to-image model, and
sees beside the noisy latent the mask at latent size and the VAE latent of the picture with the masked part grey —
exactly what `modules/pipeline/inpaint.image_conditioning` builds at generation time. A quarter of the masks cover
everything (the "txt2img" case, `inpaint.txt2img_conditioning`), the rest a box around the shape or a random box.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from modules.training.dataset import to_unit
from modules.training.scenes import Scene
from modules.training.train_unet import UnetTrainer

EXTRA_CHANNELS = 5  # mask + masked-image latent
FULL, AROUND_SHAPE = 0.25, 0.35  # fractions of the masks; the rest are random boxes


def widen_conv_in(state: dict[str, torch.Tensor], in_channels: int) -> dict[str, torch.Tensor]:
    """A 4-channel UNet's weights for one with `in_channels` inputs: the new input channels start at zero.

    >>> w = widen_conv_in({"conv_in.weight": torch.ones(2, 4, 3, 3)}, 9)["conv_in.weight"]
    >>> tuple(w.shape), float(w[:, :4].sum()), float(w[:, 4:].abs().sum())
    ((2, 9, 3, 3), 72.0, 0.0)
    """
    weight = state["conv_in.weight"]  # [C, 4, 3, 3]
    extra = weight.new_zeros(weight.shape[0], in_channels - weight.shape[1], *weight.shape[2:])
    return dict(state, **{"conv_in.weight": torch.cat([weight, extra], dim=1)})  # [C, in_channels, 3, 3]


def box_mask(size: int, left: int, top: int, right: int, bottom: int) -> torch.Tensor:
    """[1, size, size]: 1 inside the box (right/bottom exclusive, clipped to the picture), 0 outside.

    >>> box_mask(4, 1, 0, 3, 2)[0].tolist()
    [[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    mask = torch.zeros(1, size, size)
    mask[:, max(0, top):min(size, bottom), max(0, left):min(size, right)] = 1.0
    return mask


def shape_box(scene: Scene, size: int, margins: tuple[int, int, int, int] = (0, 0, 0, 0)) -> tuple[int, ...]:
    """(left, top, right, bottom) of the scene's shape in a `size` picture, widened by `margins` on each side (right
    and bottom exclusive; not clipped).

    >>> shape_box(Scene("red", "circle", "white", "left", "medium", 0.25, 0.5, 0.125), 64, (1, 2, 3, 4))
    (7, 22, 28, 45)
    """
    cx, cy, half = scene.cx * size, scene.cy * size, scene.half * size
    return (int(cx - half) - margins[0], int(cy - half) - margins[1], int(cx + half) + 1 + margins[2],
            int(cy + half) + 1 + margins[3])


def random_mask(scene: Scene, size: int, gen: torch.Generator) -> torch.Tensor:
    """[1, size, size] binary: all of the picture, a box around the shape (0-12 px margin) or a random box."""
    kind = float(torch.rand((), generator=gen))
    if kind < FULL:
        return torch.ones(1, size, size)
    if kind < FULL + AROUND_SHAPE:
        return box_mask(size, *shape_box(scene, size, tuple(torch.randint(0, 13, (4,), generator=gen).tolist())))
    w, h = torch.randint(size // 8, size + 1, (2,), generator=gen).tolist()
    left = int(torch.randint(0, size - w + 1, (), generator=gen))
    top = int(torch.randint(0, size - h + 1, (), generator=gen))
    return box_mask(size, left, top, left + w, top + h)


@torch.no_grad()
def conditioning(vae: AutoencoderKL, images: np.ndarray, masks: torch.Tensor, scale: float,
                 latent_hw: tuple[int, int]) -> torch.Tensor:
    """[B, 5, h, w] = (mask at latent size, scaled latent mean of the picture with the masked part grey).

    images uint8 [B, 3, H, W]; masks [B, 1, H, W] — the same recipe as inpaint.image_conditioning at weight 1.
    """
    masked = to_unit(images) * (1.0 - masks)  # [B, 3, H, W], grey (0) where masked
    latent = vae.encode(masked).latent_dist.mean * scale  # [B, 4, h, w]
    return torch.cat([F.interpolate(masks, size=latent_hw), latent], dim=1)  # [B, 5, h, w]


class InpaintTrainer(UnetTrainer):
    """UnetTrainer whose UNet (9 input channels, from the yaml) starts from a trained text-to-image checkpoint and
    sees the inpainting conditioning of random masks. The VAE encoder is frozen (it made the cached latents)."""

    phase = "inpaint"

    def __init__(self, config: dict, vocab, latents, scale: float, scenes, path: Path, *, images: np.ndarray,
                 vae: AutoencoderKL, base: dict, **kwargs):
        self.images, self.vae = images, vae.eval().requires_grad_(False)
        super().__init__(config, vocab, latents, scale, scenes, path, **kwargs)
        if self.progress.step == 0:  # a fresh run: start from the text-to-image weights (EMA)
            in_channels = self.unet.config.in_channels
            for name, key in (("unet", "ema_unet"), ("ema_unet", "ema_unet"), ("text", "ema_text"),
                              ("ema_text", "ema_text")):
                state = widen_conv_in(base[key], in_channels) if "unet" in name else base[key]
                getattr(self, name).load_state_dict(state)

    def unet_input(self, x_t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        size = self.images.shape[-1]
        masks = torch.stack([random_mask(self.scenes[i], size, self.gen) for i in idx.tolist()])  # [B,1,H,W]
        h, w = x_t.shape[-2:]
        cond = conditioning(self.vae, self.images[idx.numpy()], masks, self.scale, (h, w))
        return torch.cat([x_t, cond], dim=1)  # [B, 9, h, w]
