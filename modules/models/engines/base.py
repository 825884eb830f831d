"""`Engine`: one loaded model of one family, and the family's maths the pipeline calls.

The pipeline, the samplers and the compatibility layer talk to this interface (through `LoadedModel`), never to a
family by name. What every latent-diffusion family shares lives here: the UNet call with its dtype handling, the VAE
with the family's latent scale and shift, the noise schedule from the yaml. A family's own engine file
(`sd1.py`, …) adds what differs: which networks a checkpoint holds and where their keys live, how a prompt becomes
a `Conditioning`, what the UNet takes besides cross-attention, the LoRA key map and the textual-inversion slots.
Inputs are cast to the model's dtypes on the way in and outputs come back as float32.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from modules.conditioning.types import Conditioning
from modules.models.devices import DeviceConfig
from modules.models.model_config import ModelSpec, alphas_cumprod
from modules.models.probes import has_prefix  # noqa: F401  (probe helper, re-exported for engine files)
from modules.models.speedups.options import UnetPatches

log = logging.getLogger(__name__)
HALF_DTYPES = (torch.float16, torch.bfloat16)

if TYPE_CHECKING:  # diffusers takes seconds to import; start-up does not need it
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTokenizer

    from modules.models.safe_load import TensorSource


@dataclass(frozen=True)
class EngineContext:
    """What every engine's `load` needs besides the file and its config."""

    device_config: DeviceConfig
    configs_dir: Path
    tokenizer: CLIPTokenizer  # CLIP ViT-L/14's, from configs/ (shared: loading it takes a second)


@dataclass(frozen=True)
class TextSlot:
    """One text encoder as textual inversion sees it: embeddings hold a vector set per slot (A1111: clip_l, clip_g)."""

    name: str
    hidden_size: int
    tokenizer: CLIPTokenizer


class Engine(ABC):
    """Base class of the per-family engines: the shared maths; subclasses fill in the family's parts.

    Class attributes a subclass sets: `latent_shift` (added to latents before the scale; 0 for SD 1.x/2.x/XL),
    `a1111_flags` (the `is_sd1`-style booleans A1111 extensions read from `shared.sd_model`). Engines whose first
    text encoder is CLIP also expose `text_encoder`, `tokenizer`, `text_layers` and `text_hidden_states` (the
    classic A1111 prompt path of `modules/conditioning/text.py` and textual inversion read them).
    """

    latent_shift: ClassVar[float] = 0.0
    a1111_flags: ClassVar[Mapping[str, bool]] = MappingProxyType({})
    refiner_only: ClassVar[bool] = False  # finishes another model's image; the loader refuses it as the main model

    def __init__(self, unet: UNet2DConditionModel, vae: AutoencoderKL, spec: ModelSpec, device_config: DeviceConfig):
        self.unet, self.vae, self.spec = unet, vae, spec
        self.device = torch.device(device_config.device)
        self.dtype, self.vae_dtype = device_config.dtype, device_config.vae_dtype
        self.alphas_cumprod = alphas_cumprod(spec.linear_start, spec.linear_end, spec.timesteps)  # float32 [T]

    # ---- what a family provides ------------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def load(cls, source: TensorSource, spec: ModelSpec, context: EngineContext, baked_vae: bool) -> Engine:
        """Build the networks from an open checkpoint (`baked_vae`: also its own VAE; else the caller sets one)."""

    @abstractmethod
    def encode_prompt(self, texts: Sequence[str], clip_skip: int, **options) -> list[Conditioning]:
        """One Conditioning [1, T_i, C] per text (`options`: emphasis, cache, embeddings… as
        `modules.conditioning.text.encode_prompts` takes them)."""

    @abstractmethod
    def text_slots(self) -> dict[str, TextSlot]:
        """The text encoders by textual-inversion slot name."""

    @abstractmethod
    def lora_module_map(self) -> dict[str, tuple[str, torch.nn.Module]]:
        """kohya LoRA layer name → ("te" | "unet", module) for every layer a LoRA may patch."""

    def networks(self) -> tuple[torch.nn.Module, ...]:
        """Every network holding weights (for memory accounting)."""
        return self.unet, self.vae

    def prompt_options(self, opts, negative: bool) -> dict[str, Any]:
        """Keyword arguments `encode_prompt` takes from the settings snapshot `opts` for the prompt (`negative`
        False) or the negative prompt (SDXL: crop settings, aesthetic score, zeros for an empty negative)."""
        return {}

    def unet_kwargs(self, cond: Conditioning) -> dict[str, Any]:
        """What the UNet takes besides x, t and cross-attention (SDXL: added_cond_kwargs); none by default."""
        return {}

    def residual_kwargs(self, residuals: Sequence[torch.Tensor]) -> dict[str, Any]:
        """ControlNet residuals (the encoder outputs, then the middle block's, each [B, c_i, h_i, w_i]) as the UNet
        takes them; diffusers' `UNet2DConditionModel` adds them where the original ControlNet adds them."""
        cast = [r.to(self.device, self.dtype) for r in residuals]
        return {"down_block_additional_residuals": tuple(cast[:-1]), "mid_block_additional_residual": cast[-1]}

    def control_kwargs(self, x: torch.Tensor, cond: Conditioning) -> dict[str, Any]:
        """What a ControlNet of this family takes besides x [B, C, h, w], t, context and hint: the added conditioning
        the UNet gets for the same call (SDXL: pooled text and time ids); none by default."""
        return self.unet_kwargs(cond)

    def unet_run(self, patches: UnetPatches, step: Callable[[], int]) -> Callable | None:
        """What applies a pass's speed options (token merging, HyperTile, feature caching) to this engine's UNet,
        or None when none is on, so the call takes the plain path. `step()` is the pass's current sampling step.
        The default works on diffusers' `UNet2DConditionModel`; a family with another UNet overrides it."""
        if not patches.active:
            return None
        from modules.models.speedups.run import UnetRun

        return UnetRun(self.unet, patches, step, self.vae_scale_factor)

    # ---- shared maths -------------------------------------------------------------------------------------------

    @property
    def prediction_type(self) -> str:
        return self.spec.prediction_type  # "epsilon" | "v_prediction"

    @property
    def native_size(self) -> int:
        return self.spec.native_size

    @property
    def latent_scale(self) -> float:
        return self.spec.scale_factor

    @property
    def latent_channels(self) -> int:
        return self.vae.config.latent_channels

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def unet_in_channels(self) -> int:
        return self.unet.config.in_channels

    @torch.no_grad()
    def unet_forward(self, x: torch.Tensor, t: torch.Tensor | float, cond: Conditioning,
                     concat: torch.Tensor | None = None, *, name: str = "this model",
                     run: Callable | None = None, residuals: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The UNet's prediction (ε or v) for latents x [B,4,h,w] at DDPM timesteps t [B] under `cond` [B,L,C].

        `concat` [B,5,h,w] (mask, masked-image latents) is appended on channels for 9-channel inpainting models;
        `name` (the checkpoint's) makes a channel mismatch say which file it is; `run` (from `unet_run`) calls the
        UNet with a pass's speed options instead of directly; `residuals` (ControlNet's, see `residual_kwargs`) are
        added to the UNet's encoder and middle-block outputs.
        """
        if concat is not None:
            x = torch.cat([x, concat.to(x)], dim=1)  # [B, 4 + 5, h, w]
        if x.shape[1] != self.unet_in_channels:
            raise ValueError(f"UNet of {name} takes {self.unet_in_channels} channels, got "
                             f"{x.shape[1]} (inpainting models need concat=[mask, masked latents])")
        t = torch.as_tensor(t, device=self.device, dtype=torch.float32)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t  # [B]
        context = cond.cross_attn.to(self.device, self.dtype)  # [B, L, C]
        kwargs = self.unet_kwargs(cond)
        if residuals is not None:
            kwargs = {**kwargs, **self.residual_kwargs(residuals)}
        if run is not None:
            return run(x.to(self.device, self.dtype), t, context, kwargs).float()  # [B, 4, h, w]
        out = self.unet(x.to(self.device, self.dtype), t, encoder_hidden_states=context, return_dict=False,
                        **kwargs)[0]
        return out.float()  # [B, 4, h, w]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents [B,4,h,w] → images [B,3,h*f,w*f] float32 in [0, 1]."""
        z = latents.to(self.device, self.vae_dtype) / self.latent_scale
        if self.latent_shift:
            z = z + self.latent_shift
        images = self.vae.decode(z, return_dict=False)[0]  # [B, 3, H, W] in [-1, 1]
        if self.vae_dtype in HALF_DTYPES and bool(torch.isnan(images).any()):
            self.vae_to_float32()  # SDXL's VAE overflows in float16; A1111 "reverts VAE to 32-bit floats"
            return self.decode(latents)
        return ((images.float() + 1) / 2).clamp(0, 1)

    def vae_to_float32(self) -> None:
        """Run the VAE in float32 from now on (for this loaded model), as A1111 does after a NaN decode."""
        log.warning("the VAE gave NaNs in %s: it runs in float32 from now on (a fixed fp16 VAE avoids this)",
                    str(self.vae_dtype).removeprefix("torch."))
        self.vae.to(torch.float32)
        self.vae_dtype = torch.float32

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
        z = z.float()
        if self.latent_shift:
            z = z - self.latent_shift
        return z * self.latent_scale

    def store_fp8(self, lora_copy: bool) -> int:
        """Keep every Linear/Conv2d weight of the networks other than the VAE as FP8 (A1111 converts the whole
        model but its first stage); returns how many layers changed. `lora_copy`: see `modules/models/fp8.py`."""
        from modules.models.fp8 import store_fp8

        return sum(store_fp8(network, lora_copy) for network in self.networks() if network is not self.vae)

    def memory_bytes(self) -> int:
        """Bytes held by the weights (parameters and buffers) of every network."""
        return sum(t.numel() * t.element_size() for module in self.networks()
                   for t in [*module.parameters(), *module.buffers()])
