"""`LoadedModel`: one loaded checkpoint and the family maths the pipeline calls (no isinstance chains elsewhere).

Inputs are cast to the model's dtypes on the way in and outputs come back as float32, so samplers and image code
work in float32 whatever precision the weights run in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from modules.errors import InvalidInput
from modules.models.discovery import CheckpointInfo
from modules.models.model_config import ModelSpec

if TYPE_CHECKING:  # diffusers takes seconds to import; start-up does not need it
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer


@dataclass(eq=False)
class LoadedModel:
    """Weights plus what the pipeline needs to know about them. Owned by ModelManager; do not keep it across jobs."""

    checkpoint: CheckpointInfo
    family: str
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    device: torch.device
    dtype: torch.dtype
    vae_dtype: torch.dtype
    prediction_type: str  # "epsilon" | "v_prediction"
    alphas_cumprod: torch.Tensor  # float32 [T]
    latent_channels: int
    vae_scale_factor: int
    latent_scale: float
    unet_in_channels: int
    native_size: int = 512
    vae_name: str | None = None  # None: the checkpoint's own VAE
    vae_hash: str | None = None
    vae_path: Path | None = None
    spec: ModelSpec | None = field(default=None, repr=False)

    @torch.no_grad()
    def unet_forward(self, x: torch.Tensor, t: torch.Tensor | float, context: torch.Tensor,
                     concat: torch.Tensor | None = None) -> torch.Tensor:
        """The UNet's prediction (ε or v) for latents x [B,4,h,w] at DDPM timesteps t [B] with context [B,L,C].

        `concat` [B,5,h,w] (mask, masked-image latents) is appended on channels for 9-channel inpainting models.
        """
        if concat is not None:
            x = torch.cat([x, concat.to(x)], dim=1)  # [B, 4 + 5, h, w]
        if x.shape[1] != self.unet_in_channels:
            raise ValueError(f"UNet of {self.checkpoint.name} takes {self.unet_in_channels} channels, got "
                             f"{x.shape[1]} (inpainting models need concat=[mask, masked latents])")
        t = torch.as_tensor(t, device=self.device, dtype=torch.float32)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # [B]
        out = self.unet(x.to(self.device, self.dtype), t, encoder_hidden_states=context.to(self.device, self.dtype),
                        return_dict=False)[0]
        return out.float()  # [B, 4, h, w]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents [B,4,h,w] → images [B,3,h*f,w*f] float32 in [0, 1]."""
        z = latents.to(self.device, self.vae_dtype) / self.latent_scale
        images = self.vae.decode(z, return_dict=False)[0]  # [B, 3, H, W] in [-1, 1]
        return ((images.float() + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None,
               sample: bool = True) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] → scaled latents [B,4,H/f,W/f] float32.

        A1111 (LDM's `get_first_stage_encoding`) samples the posterior: `sample=True`, seeded by `generator`;
        `sample=False` takes its mode (the mean), which is deterministic.
        """
        x = images.to(self.device, self.vae_dtype) * 2 - 1  # [B, 3, H, W] in [-1, 1]
        posterior = self.vae.encode(x, return_dict=False)[0]
        z = posterior.sample(generator) if sample else posterior.mode()  # [B, 4, H/f, W/f]
        return z.float() * self.latent_scale

    @property
    def text_layers(self) -> int:
        return self.text_encoder.config.num_hidden_layers

    @torch.no_grad()
    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        """CLIP token ids [B,77] → hidden states [B,77,C] float32.

        Clip skip N (A1111): the N-th last hidden layer followed by the final layer norm; 1 is the last layer.
        """
        if not 1 <= clip_skip <= self.text_layers:
            raise InvalidInput("clip_skip", f"{clip_skip} is out of range", f"1 to {self.text_layers}")
        ids = input_ids.to(self.device)
        if clip_skip == 1:
            out = self.text_encoder(input_ids=ids)
            return out.last_hidden_state.float()  # [B, 77, C], final layer norm applied
        out = self.text_encoder(input_ids=ids, output_hidden_states=True)
        hidden = out.hidden_states[-clip_skip]  # [B, 77, C]; hidden_states[0] is the embeddings
        return self.text_encoder.final_layer_norm(hidden).float()

    def memory_bytes(self) -> int:
        """Bytes held by the weights (parameters and buffers) of UNet, VAE and text encoder."""
        total = 0
        for module in (self.unet, self.vae, self.text_encoder):
            total += sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
        return total
