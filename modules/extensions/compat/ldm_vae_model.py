"""`ldm.modules.diffusionmodules.model` as A1111 extensions meet it: the VAE's `Encoder` and `Decoder` in ldm's
layout, as views of Easel's diffusers AutoencoderKL (`shared.sd_model.first_stage_model.encoder` / `.decoder`).

A view names the diffusers layers (their own weights) as ldm did: `conv_in`, `down[i].block[j]` and `up[i].block[j]`
(`ResnetBlock`: `norm1`, `conv1`, `norm2`, `conv2`, `nin_shortcut`), `down[i].downsample`, `up[i].upsample`,
`mid.block_1`, `mid.attn_1` (`AttnBlock`: `norm`, and `q`, `k`, `v`, `proj_out` as ldm's 1×1 convolutions),
`mid.block_2`, `norm_out`, `conv_out`. ldm's `up` counts levels from the highest resolution, diffusers' `up_blocks`
from the lowest. What an extension sets on an Encoder or Decoder view (`forward`, `original_forward`) is set on the
diffusers module, so the VAE calls a replaced `forward` (Tiled VAE decodes tile by tile that way) and every later
view sees it.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch


class _Pointwise(torch.nn.Module):
    """A diffusers Linear over channels used as ldm's 1×1 convolution on [B, C, H, W]."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.linear.weight[:, :, None, None]  # [C_out, C_in, 1, 1]
        return torch.nn.functional.conv2d(x, weight, self.linear.bias)


class ResnetBlock:
    """ldm's ResnetBlock over a diffusers ResnetBlock2D (no time embedding in the VAE)."""

    def __init__(self, inner: torch.nn.Module):
        self.inner = inner
        self.in_channels, self.out_channels = inner.in_channels, inner.out_channels
        self.norm1, self.conv1, self.norm2, self.conv2 = inner.norm1, inner.conv1, inner.norm2, inner.conv2
        self.use_conv_shortcut = False  # diffusers' shortcut is ldm's 1×1 `nin_shortcut`
        self.nin_shortcut = inner.conv_shortcut

    def __call__(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        return self.inner(x, temb)


class AttnBlock:
    """ldm's single-head AttnBlock over a diffusers Attention of the VAE's middle block."""

    def __init__(self, inner: torch.nn.Module):
        self.inner = inner
        self.in_channels = inner.to_q.in_features
        self.norm = inner.group_norm
        self.q, self.k, self.v = _Pointwise(inner.to_q), _Pointwise(inner.to_k), _Pointwise(inner.to_v)
        self.proj_out = _Pointwise(inner.to_out[0])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)  # x + attention(norm(x)), [B, C, H, W]


MemoryEfficientAttnBlock = AttnBlock


class _Coder:
    """What Encoder and Decoder share: the diffusers module, attribute writes going to it, `to` keeping the view."""

    give_pre_end = False
    tanh_out = False

    def __init__(self, inner: torch.nn.Module):
        object.__setattr__(self, "_inner", inner)
        middle = inner.mid_block
        object.__setattr__(self, "mid", SimpleNamespace(block_1=ResnetBlock(middle.resnets[0]),
                                                        attn_1=AttnBlock(middle.attentions[0]),
                                                        block_2=ResnetBlock(middle.resnets[1])))

    conv_in = property(lambda self: self._inner.conv_in)
    conv_out = property(lambda self: self._inner.conv_out)
    norm_out = property(lambda self: self._inner.conv_norm_out)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self._inner, name, value)  # `forward` too: the VAE calls what is set here

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._inner(x)

    def to(self, *args, **kwargs):
        self._inner.to(*args, **kwargs)
        return self


class Encoder(_Coder):
    """ldm's Encoder: `down[i]` from the highest resolution, each with `block` and (but the last) `downsample`."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__(inner)
        levels = [SimpleNamespace(block=[ResnetBlock(r) for r in b.resnets],
                                  downsample=b.downsamplers[0] if b.downsamplers else None) for b in inner.down_blocks]
        object.__setattr__(self, "down", levels)
        object.__setattr__(self, "num_resolutions", len(levels))
        object.__setattr__(self, "num_res_blocks", len(levels[0].block))


class Decoder(_Coder):
    """ldm's Decoder: `up[i]` from the highest resolution (diffusers' up_blocks reversed), each with `block` and
    (but the first) `upsample`."""

    def __init__(self, inner: torch.nn.Module):
        super().__init__(inner)
        levels = [SimpleNamespace(block=[ResnetBlock(r) for r in b.resnets],
                                  upsample=b.upsamplers[0] if b.upsamplers else None)
                  for b in reversed(inner.up_blocks)]
        object.__setattr__(self, "up", levels)
        object.__setattr__(self, "num_resolutions", len(levels))
        object.__setattr__(self, "num_res_blocks", len(levels[0].block) - 1)


class AutoencoderView:
    """`shared.sd_model.first_stage_model`: the loaded VAE's `encoder` and `decoder` in ldm's layout."""

    def __init__(self, vae: torch.nn.Module):
        self._vae = vae

    @property
    def encoder(self) -> Encoder:
        return Encoder(self._vae.encoder)

    @property
    def decoder(self) -> Decoder:
        return Decoder(self._vae.decoder)

    quant_conv = property(lambda self: self._vae.quant_conv)
    post_quant_conv = property(lambda self: self._vae.post_quant_conv)
    device = property(lambda self: next(self._vae.parameters()).device)
    dtype = property(lambda self: next(self._vae.parameters()).dtype)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"Easel's first_stage_model has encoder, decoder, quant_conv, post_quant_conv, device "
                             f"and dtype, not {name}: the VAE is diffusers' AutoencoderKL (docs/a1111-compat.md)")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no ldm.modules.diffusionmodules.model.{name}: of ldm's VAE code it has Encoder, "
                         "Decoder, ResnetBlock and AttnBlock as views of its diffusers VAE (docs/a1111-compat.md)")
