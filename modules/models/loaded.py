"""`LoadedModel`: one loaded checkpoint: which file, which VAE, and the family engine that holds its networks.

The pipeline calls the model through this object; the family maths behind each call is the engine's
(`modules/models/engines/`), so nothing outside `modules/models/` asks which family a model is. Inputs are cast to
the model's dtypes on the way in and outputs come back as float32, so samplers and image code work in float32
whatever precision the weights run in.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from modules.conditioning.types import Conditioning
from modules.models.discovery import CheckpointInfo
from modules.models.engines.base import Engine, TextSlot
from modules.models.weight_storage import FULL_WEIGHTS, WeightStorage

if TYPE_CHECKING:
    from modules.models.model_config import ModelSpec


@runtime_checkable
class ClipTextEngine(Protocol):
    """An engine whose first text encoder is CLIP (SD 1.x, 2.x): the classic prompt path and textual inversion
    run it layer by layer."""

    @property
    def text_layers(self) -> int: ...

    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor: ...


@dataclass(eq=False)
class LoadedModel:
    """Weights plus what the pipeline needs to know about them. Owned by ModelManager; do not keep it across jobs."""

    checkpoint: CheckpointInfo
    family: str  # the family table's row name (for logs and tests; nothing branches on it)
    engine: Engine
    vae_name: str | None = None  # None: the checkpoint's own VAE
    vae_hash: str | None = None
    vae_path: Path | None = None
    storage: WeightStorage = FULL_WEIGHTS  # FP8 layers or not (`store_weights`)

    # ---- the calls the pipeline makes ---------------------------------------------------------------------------

    def unet_forward(self, x: torch.Tensor, t: torch.Tensor | float, context: torch.Tensor,
                     concat: torch.Tensor | None = None, pooled: torch.Tensor | None = None,
                     added: Mapping[str, torch.Tensor] | None = None, run: Callable | None = None,
                     residuals: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The UNet's prediction (ε or v) for latents x [B,4,h,w] at DDPM timesteps t [B] with context [B,L,C].

        `concat` [B,5,h,w] (mask, masked-image latents) is appended on channels for 9-channel inpainting models;
        `pooled` [B,D] and `added` ({name: [B,…]}) are the rest of a `Conditioning` for families that take them;
        `run` (from `unet_run`) applies a pass's speed options; `residuals` are ControlNet's (`Engine.residual_kwargs`).
        """
        cond = Conditioning(context, None, pooled, added or {})
        extra = {} if residuals is None else {"residuals": residuals}
        return self.engine.unet_forward(x, t, cond, concat, name=self.checkpoint.name, run=run, **extra)

    def control_kwargs(self, x: torch.Tensor, context: torch.Tensor, pooled: torch.Tensor | None = None,
                       added: Mapping[str, torch.Tensor] | None = None) -> dict:
        """What this model's ControlNets take besides x, t, context and hint for the latents x (SDXL: the UNet's
        pooled text and time ids, `Engine.control_kwargs`)."""
        return self.engine.control_kwargs(x, Conditioning(context, None, pooled, added or {}))

    def unet_run(self, patches, step: Callable[[], int]) -> Callable | None:
        """A pass's speed options for this model's UNet (None when none is on; `Engine.unet_run`)."""
        return self.engine.unet_run(patches, step)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents [B,4,h,w] → images [B,3,h*f,w*f] float32 in [0, 1]."""
        return self.engine.decode(latents)

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None,
               sample: bool = True) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] → scaled latents [B,4,H/f,W/f] float32 (posterior sample or mode)."""
        return self.engine.encode(images, generator, sample)

    def encode_prompt(self, texts: Sequence[str], clip_skip: int, **options) -> list[Conditioning]:
        """One Conditioning [1, T_i, C] per text, as the family encodes prompts."""
        return self.engine.encode_prompt(texts, clip_skip, **options)

    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        """CLIP token ids [B,77] → hidden states [B,77,C] float32 (the family's first text encoder)."""
        return self._clip_engine().text_hidden_states(input_ids, clip_skip)

    def text_slots(self) -> dict[str, TextSlot]:
        return self.engine.text_slots()

    def lora_module_map(self) -> dict[str, tuple[str, torch.nn.Module]]:
        return self.engine.lora_module_map()

    def store_weights(self, storage: WeightStorage) -> None:
        """Keep the UNet's and text encoders' layers as FP8 (A1111's "FP8 weight"), once, right after loading;
        going back needs a fresh load, which the ModelManager does."""
        if self.storage.fp8 and self.storage != storage:
            raise ValueError("FP8 weights cannot be widened back in place: load the model again")
        if storage.fp8 and not self.storage.fp8:
            self.engine.store_fp8(storage.lora_copy)
        self.storage = storage

    @property
    def is_sdxl(self) -> bool:
        """A1111's `is_sdxl` (its "Enable for SDXL" FP8 mode asks)."""
        return bool(self.engine.a1111_flags.get("is_sdxl", False))

    def memory_bytes(self) -> int:
        """Bytes held by the weights (parameters and buffers) of every network."""
        return self.engine.memory_bytes()

    # ---- facts about the model, from the engine -----------------------------------------------------------------

    @property
    def unet(self):
        return self.engine.unet

    @property
    def vae(self):
        return self.engine.vae

    @vae.setter
    def vae(self, vae) -> None:
        self.engine.vae = vae

    @property
    def text_encoder(self):
        """The first text encoder (textual inversion and LoRA read its layers)."""
        return self.engine.text_encoder

    @property
    def tokenizer(self):
        return self.engine.tokenizer

    @property
    def text_layers(self) -> int:
        return self._clip_engine().text_layers

    def _clip_engine(self) -> ClipTextEngine:
        engine = self.engine
        if not isinstance(engine, ClipTextEngine):  # AttributeError, as before: `hasattr` callers see no text seam
            raise AttributeError(f"the {self.family} engine ({type(engine).__name__}) has no single CLIP text "
                                 "encoder to run layer by layer")
        return engine

    @property
    def spec(self) -> ModelSpec:
        return self.engine.spec

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def dtype(self) -> torch.dtype:
        return self.engine.dtype

    @property
    def vae_dtype(self) -> torch.dtype:
        return self.engine.vae_dtype

    @property
    def prediction_type(self) -> str:
        return self.engine.prediction_type  # "epsilon" | "v_prediction"

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return self.engine.alphas_cumprod  # float32 [T]

    @property
    def latent_channels(self) -> int:
        return self.engine.latent_channels

    @property
    def vae_scale_factor(self) -> int:
        return self.engine.vae_scale_factor

    @property
    def latent_scale(self) -> float:
        return self.engine.latent_scale

    @property
    def unet_in_channels(self) -> int:
        return self.engine.unet_in_channels

    @property
    def native_size(self) -> int:
        return self.engine.native_size
