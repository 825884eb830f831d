"""The ResNet-v2 (BiT) trunk of MiDaS DPT-Hybrid: weight-standardised convolutions with TensorFlow "SAME" padding,
GroupNorm, post-activation bottlenecks (the layout timm's `vit_base_r50_s16_384` backbone stores).

Parameter names follow `dpt_hybrid-midas-501f0c75.pt` (`stem.conv`, `stages.0.blocks.0.conv1`, …) so the file loads
unchanged. Stages 0 and 1 also feed the depth decoder directly (modules/controlnet/preprocessors/depth/dpt.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

GROUPS = 32
WS_EPS = 1e-8  # the weight-standardisation epsilon of the hybrid's convolutions
GN_EPS = 1e-5


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding that makes a strided window cover `size` as TensorFlow's SAME does.

    >>> same_padding(64, 7, 2), same_padding(32, 3, 2), same_padding(32, 1, 2), same_padding(16, 3, 1)
    ((2, 3), (0, 1), (0, 0), (1, 1))
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[-2], kernel, stride)
    left, right = same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value)


class StdConv(nn.Conv2d):
    """A bias-free convolution whose kernel is standardised (zero mean, unit variance per output channel)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.flatten(1)  # [out, in·k·k]
        w = (w - w.mean(1, keepdim=True)) / torch.sqrt(w.var(1, unbiased=False, keepdim=True) + WS_EPS)
        x = pad_same(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, w.view_as(self.weight), None, self.stride)


class GroupNormAct(nn.GroupNorm):
    def __init__(self, channels: int, act: bool = True):
        super().__init__(GROUPS, channels, eps=GN_EPS)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return F.relu(x) if self.act else x


class Downsample(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv = StdConv(cin, cout, 1, stride)
        self.norm = GroupNormAct(cout, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Bottleneck(nn.Module):
    """1×1 → 3×3 (strided) → 1×1, normalised after each conv, ReLU after the residual sum."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        mid = cout // 4
        self.downsample = Downsample(cin, cout, stride) if (cin != cout or stride != 1) else None
        self.conv1, self.norm1 = StdConv(cin, mid, 1), GroupNormAct(mid)
        self.conv2, self.norm2 = StdConv(mid, mid, 3, stride), GroupNormAct(mid)
        self.conv3, self.norm3 = StdConv(mid, cout, 1), GroupNormAct(cout, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.norm1(self.conv1(x))
        y = self.norm2(self.conv2(y))
        y = self.norm3(self.conv3(y))
        return F.relu(y + shortcut)


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int, depth: int, stride: int):
        super().__init__()
        self.blocks = nn.Sequential(*[Bottleneck(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                                      for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Stem(nn.Module):
    """7×7/2 convolution, GroupNorm + ReLU, 3×3/2 max pool (SAME)."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv = StdConv(3, width, 7, 2)
        self.norm = GroupNormAct(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))  # [B, 64, H/2, W/2], ≥ 0 after the ReLU
        return F.max_pool2d(pad_same(x, 3, 2, value=float("-inf")), 3, 2)  # [B, 64, H/4, W/4]


class ResNetV2(nn.Module):
    """Stages of (3, 4, 9) bottlenecks: 256 channels at 1/4, 512 at 1/8, 1024 at 1/16 of the input."""

    def __init__(self, depths: tuple[int, ...] = (3, 4, 9), widths: tuple[int, ...] = (256, 512, 1024)):
        super().__init__()
        self.stem = Stem()
        cins = (64, *widths[:-1])
        self.stages = nn.Sequential(*[Stage(cin, cout, d, 1 if i == 0 else 2)
                                      for i, (cin, cout, d) in enumerate(zip(cins, widths, depths))])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's output, shallowest first."""
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs
