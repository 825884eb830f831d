"""ldm's `sd_model.model.diffusion_model` as extensions walk it to hook attention: `named_modules()` lists Easel's
UNet layers under ldm's names (`input_blocks.1.1.transformer_blocks.0.attn2`), each diffusers attention layer as a
`CrossAttention` with ldm's parts (`to_q`, `to_k`, `to_v`, `to_out`, `heads`, `scale`). A1111 extensions replace a
CrossAttention's `forward` with their own (sd-webui-negpip adds negatively weighted words to the context and
negates their values); the UNet then calls the replacement with ldm's arguments (`x`, `context=`, `mask=`), and
deleting it puts the layer's own attention back. Nothing changes while no extension replaces anything."""
from __future__ import annotations

import weakref
from collections.abc import Iterator

import torch

from modules.models.ldm_layout import UNET_PREFIX, unet_key_to_ldm

_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # UNet → its DiffusionModel view
_layers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # diffusers Attention → its CrossAttention


def _is_attention(module: torch.nn.Module) -> bool:
    from diffusers.models.attention_processor import Attention

    return isinstance(module, Attention)


class CrossAttention(torch.nn.Module):
    """One attention layer of the UNet in ldm's shape, over diffusers' `Attention` (its weights, not copies)."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        object.__setattr__(self, "_inner", inner)
        self.to_q, self.to_k, self.to_v = inner.to_q, inner.to_k, inner.to_v
        self.to_out = torch.nn.Sequential(*inner.to_out)  # [Linear, Dropout], callable as ldm's
        self.heads, self.scale = inner.heads, inner.scale

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                **kwargs) -> torch.Tensor:
        """The layer's own attention: x [B, N, C], context [B, T, C'] (None: self-attention)."""
        inner = self._inner
        return type(inner).forward(inner, x, encoder_hidden_states=context, attention_mask=mask)

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        if name == "forward":
            self._route(value)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        if name == "forward":
            vars(self._inner).pop("forward", None)

    def _route(self, replacement) -> None:
        """Make the UNet's call of this layer (diffusers' arguments) reach `replacement` (ldm's arguments)."""
        def forward(hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
            if attention_mask is None:
                return replacement(hidden_states, context=encoder_hidden_states)
            return replacement(hidden_states, context=encoder_hidden_states, mask=attention_mask)

        vars(self._inner)["forward"] = forward


def cross_attention(inner: torch.nn.Module) -> CrossAttention:
    """The one CrossAttention of a diffusers attention layer (kept while the layer lives)."""
    if inner not in _layers:
        _layers[inner] = CrossAttention(inner)
    return _layers[inner]


def ldm_name(name: str, config) -> str | None:
    """ldm's name of a diffusers UNet module (`down_blocks.0.attentions.0` → `input_blocks.1.1`), or None."""
    try:
        return unet_key_to_ldm(name + ".weight", config).removeprefix(UNET_PREFIX).removesuffix(".weight")
    except KeyError:
        return None


class DiffusionModel(torch.nn.Module):
    """ldm's UNetModel as a view of a diffusers UNet: its modules by ldm's names, attention as CrossAttention."""

    def __init__(self, unet: torch.nn.Module):
        super().__init__()
        object.__setattr__(self, "_unet", unet)

    @property
    def dtype(self) -> torch.dtype:
        return self._unet.dtype

    @property
    def input_blocks(self):
        """ldm's input blocks, each slot assignable (compat/unet_blocks.py)."""
        from modules.extensions.compat.unet_blocks import block_lists

        return block_lists(self._unet)[0]

    @property
    def output_blocks(self):
        """ldm's output blocks, each slot assignable (compat/unet_blocks.py)."""
        from modules.extensions.compat.unet_blocks import block_lists

        return block_lists(self._unet)[1]

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, torch.nn.Module]]:
        yield prefix, self
        for name, module in self._unet.named_modules():
            ldm = ldm_name(name, self._unet.config) if name else None
            if ldm is None:
                continue
            shown = cross_attention(module) if _is_attention(module) else module
            yield (f"{prefix}.{ldm}" if prefix else ldm), shown

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                **kwargs) -> torch.Tensor:
        """ldm's call: latents x [B, 4, h, w], timesteps [B], context [B, T, C] → the UNet's output."""
        if kwargs.get("y") is not None:
            raise ValueError("Easel's view of the UNet takes no `y` (SDXL's vector): call shared.sd_model's "
                             "own sampling instead")
        return self._unet(x, timesteps, encoder_hidden_states=context, return_dict=False)[0]


def diffusion_model(unet: torch.nn.Module) -> DiffusionModel:
    """The one view of `unet` (extensions hook it and unhook it again through the same object)."""
    if unet not in _views:
        _views[unet] = DiffusionModel(unet)
    return _views[unet]
