"""FP8 weight storage (A1111's "FP8 weight"): `Linear` and `Conv2d` layers whose weight and bias live as
float8 e4m3 and are widened to the input's dtype for each call, so the layer computes exactly as a 16/32-bit
layer holding the rounded weights would.

The layers keep their class's identity for everything that looks them up (`isinstance(m, nn.Linear)`: LoRA's
module map, ControlNet, hooks): each becomes a subclass that only changes `forward`. With a LoRA copy, the weight
as loaded is also kept at 16 bits (`lora_base`), so LoRA deltas are added to it rather than to the rounded one.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.models.channels_last import PointwiseConv2d

FP8 = torch.float8_e4m3fn


class Fp8Linear(nn.Linear):
    """A Linear whose weight (and bias) are FP8; the product runs in the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class Fp8Conv2d(nn.Conv2d):
    """A Conv2d whose weight (and bias) are FP8; the convolution runs in the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return self._conv_forward(x, self.weight.to(x.dtype), bias)


class Fp8PointwiseConv2d(PointwiseConv2d):
    """The channels-last 1×1 convolution (`modules/models/channels_last.py`) with FP8 weight and bias."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.reshape(self.out_channels, self.in_channels).to(x.dtype)  # [O, I]
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x.permute(0, 2, 3, 1), weight, bias).permute(0, 3, 1, 2)  # [B, O, H, W], NHWC strides


_FP8_CLASS = {nn.Linear: Fp8Linear, nn.Conv2d: Fp8Conv2d, PointwiseConv2d: Fp8PointwiseConv2d}


def copy_dtype(dtype: torch.dtype) -> torch.dtype:
    """The LoRA copy's dtype: the weight's own when it is 16-bit, else float16 (A1111 keeps an fp16 copy)."""
    return dtype if dtype in (torch.float16, torch.bfloat16) else torch.float16


@torch.no_grad()
def store_fp8(network: nn.Module, lora_copy: bool = False) -> int:
    """Turn every plain `Linear` / `Conv2d` (and channels-last 1×1 convolution) of `network` into its FP8 form in
    place; returns how many. With `lora_copy` each keeps its weight as loaded, at 16 bits, in `lora_base` (a
    buffer, so it moves with the layer and counts in the model's memory, but is not a parameter)."""
    count = 0
    for module in network.modules():
        fp8_class = _FP8_CLASS.get(type(module))
        if fp8_class is None:
            continue
        assert isinstance(module, (nn.Linear, nn.Conv2d))
        if lora_copy:
            module.register_buffer("lora_base", module.weight.detach().to(copy_dtype(module.weight.dtype)),
                                   persistent=False)
        module.weight = nn.Parameter(module.weight.detach().to(FP8), requires_grad=False)
        if module.bias is not None:
            module.bias = nn.Parameter(module.bias.detach().to(FP8), requires_grad=False)
        module.__class__ = fp8_class
        count += 1
    return count


def is_fp8(module: nn.Module) -> bool:
    return isinstance(module, (Fp8Linear, Fp8Conv2d, Fp8PointwiseConv2d))


def lora_base(module: nn.Linear | nn.Conv2d) -> torch.Tensor:
    """The weight a LoRA delta is added to, float32: the 16-bit copy when kept, else the FP8 weight widened."""
    base = getattr(module, "lora_base", None)
    return (module.weight if base is None else base).float()
