"""SD 1.x: one CLIP ViT-L/14 text encoder, a 4-channel latent UNet (9 channels for the inpainting variant, which
takes mask and masked-image latents on extra input channels: the same engine, told apart by the weights' shape).

The probes read only key names and shapes (A1111's rule for the inpainting variant: the UNet's first convolution
takes 9 channels; instruct-pix2pix takes 8).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType

import torch

from modules.conditioning.text import encode_prompts
from modules.conditioning.types import Conditioning
from modules.errors import InvalidInput
from modules.models.components import load_text_encoder, load_unet, load_vae
from modules.models.engines.base import Engine, EngineContext, TextSlot
from modules.models.lora import module_map
from modules.models.model_config import ModelSpec
from modules.models.probes import CLIP_L_PREFIX, unet_with_in_channels


def clip_l_unet_with_in_channels(channels: int) -> Callable:
    """A probe: CLIP ViT-L text encoder keys and a UNet whose first convolution takes `channels` channels.

    >>> from modules.models.probes import UNET_IN
    >>> clip_l_unet_with_in_channels(9)({UNET_IN: (320, 9, 3, 3), CLIP_L_PREFIX + "x": (1,)})
    True
    >>> clip_l_unet_with_in_channels(4)({UNET_IN: (320, 9, 3, 3), CLIP_L_PREFIX + "x": (1,)})
    False
    """
    return unet_with_in_channels([CLIP_L_PREFIX], channels)


class SD1Engine(Engine):
    """SD 1.x and its inpainting variant: CLIP ViT-L/14 cross-attention, no pooled output, latents ×0.18215."""

    a1111_flags = MappingProxyType({"is_sd1": True, "is_sd2": False, "is_sdxl": False, "is_sd3": False,
                                    "is_ssd": False})

    def __init__(self, unet, vae, text_encoder, tokenizer, spec: ModelSpec, device_config):
        super().__init__(unet, vae, spec, device_config)
        self.text_encoder, self.tokenizer = text_encoder, tokenizer

    @classmethod
    def load(cls, source, spec: ModelSpec, context: EngineContext, baked_vae: bool) -> SD1Engine:
        config = context.device_config
        device = torch.device(config.device)
        unet = load_unet(source, spec, config.dtype, device, config.channels_last)
        text_encoder = load_text_encoder(source, spec, context.configs_dir, config.dtype, device)
        vae = load_vae(source, spec, config.vae_dtype, device, True, config.channels_last) if baked_vae else None
        return cls(unet, vae, text_encoder, context.tokenizer, spec, config)

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

    def encode_prompt(self, texts: Sequence[str], clip_skip: int, **options) -> list[Conditioning]:
        """A1111's classic CLIP path (75-token chunks, emphasis, textual inversion): cross-attention only."""
        return [Conditioning(c) for c in encode_prompts(self, texts, clip_skip, **options)]  # [1, 77*k, C] each

    def text_slots(self) -> dict[str, TextSlot]:
        return {"clip_l": TextSlot("clip_l", self.text_encoder.config.hidden_size, self.tokenizer)}

    def lora_module_map(self) -> dict[str, tuple[str, torch.nn.Module]]:
        return module_map(self)  # kohya names of the text encoder's and the UNet's layers, LDM and diffusers alike

    def networks(self) -> tuple[torch.nn.Module, ...]:
        return self.unet, self.vae, self.text_encoder
