"""Channels-last fast paths for diffusers' networks on the CPU: no slow reference convolutions, no layout copies.

Two things measured on one UNet call of the full-size SD 1.5 checkpoint (docs/performance.md):

- With one thread, PyTorch sends float32 1×1 convolutions (transformer `proj_in`/`proj_out`, ResNet
  `conv_shortcut`: 46 calls per UNet call) to `aten::_slow_conv2d_forward` instead of oneDNN. On NHWC tensors a
  1×1 convolution is one matrix product over pixels, so `PointwiseConv2d` computes it with `F.linear`: no copy in,
  none out, the GEMM kernel.
- diffusers' `Transformer2DModel` ends with `.permute(0, 3, 1, 2).contiguous()`, which turns the NHWC tokens into an
  NCHW copy, and the next convolution copies it back to NHWC. `ChannelsLastTransformer2D` keeps the permuted view.

Both change only which kernel computes the same sums (outputs equal within float rounding; state dict keys and
parameters are untouched, so LoRA, tiling and ControlNet see the same modules). `use_channels_last_kernels` swaps
the classes of a loaded network's modules in place.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PointwiseConv2d(nn.Conv2d):
    """A 1×1, stride-1, unpadded, ungrouped convolution as a matrix product over the pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.reshape(self.out_channels, self.in_channels)  # [O, I]
        y = F.linear(x.permute(0, 2, 3, 1), weight, self.bias)  # [B, H, W, O]; a view when x is NHWC
        return y.permute(0, 3, 1, 2)  # [B, O, H, W] with NHWC strides


def is_pointwise(conv: nn.Module) -> bool:
    """A plain 1×1 convolution that PointwiseConv2d computes identically.

    >>> is_pointwise(nn.Conv2d(8, 4, 1)), is_pointwise(nn.Conv2d(8, 4, 3)), is_pointwise(nn.Conv2d(8, 4, 1, groups=2))
    (True, False, False)
    """
    return (type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding in ((0, 0), "valid"))


def _transformer_class():
    from diffusers.models.transformers.transformer_2d import Transformer2DModel

    class ChannelsLastTransformer2D(Transformer2DModel):
        """Transformer2DModel whose output stays in NHWC strides (no `.contiguous()` copy to NCHW)."""

        def _get_output_for_continuous_inputs(self, hidden_states, residual, batch_size, height, width, inner_dim):
            if self.use_linear_projection:
                return super()._get_output_for_continuous_inputs(hidden_states, residual, batch_size, height,
                                                                 width, inner_dim)
            tokens = hidden_states.reshape(batch_size, height, width, inner_dim)  # [B, H, W, C]
            return self.proj_out(tokens.permute(0, 3, 1, 2)) + residual  # [B, C, H, W] NHWC strides

    return Transformer2DModel, ChannelsLastTransformer2D


def use_channels_last_kernels(network: nn.Module) -> int:
    """Swap, in place, float32 1×1 convolutions to PointwiseConv2d and diffusers' 2-D transformers to the variant
    without the NCHW copy; returns how many modules changed. For NHWC networks on the CPU only."""
    base, fast = _transformer_class()
    changed = 0
    for module in network.modules():
        if type(module) is base and not module.use_linear_projection:
            module.__class__ = fast
            changed += 1
        elif is_pointwise(module) and module.weight.dtype == torch.float32:
            module.__class__ = PointwiseConv2d
            changed += 1
    return changed
