"""MiDaS DPT-Hybrid (`dpt_hybrid-midas-501f0c75.pt`, the extension's `depth` / depth_midas): the hybrid ViT encoder,
the reassembly of its four taps into a 1/4…1/32 pyramid, four fusion blocks and the depth head.

Module names follow the file (`pretrained.act_postprocess3.0.project.0`, `scratch.refinenet4.resConfUnit1.conv1`,
`scratch.output_conv.0`, …) so its state dict loads unchanged; the ViT's ImageNet head (`pretrained.model.head.*`)
is in the file but unused.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.controlnet.preprocessors.depth.vit_hybrid import PATCH, VitHybrid

FEATURES = 256
UNUSED_PREFIXES = ("pretrained.model.head.",)


class ProjectReadout(nn.Module):
    """Each patch token concatenated with the class token, projected back to `dim` (DPT's "project" readout)."""

    def __init__(self, dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, 1:]  # [B, N, dim]
        readout = tokens[:, :1].expand_as(patches)
        return self.project(torch.cat([patches, readout], dim=-1))


class Reassemble(nn.Module):
    """Tokens → a feature map: readout, back to a grid, 1×1 conv, and for the deepest tap a 3×3/2 conv (1/32)."""

    def __init__(self, dim: int, downsample: bool):
        super().__init__()
        # Indices as in the file's Sequential (1 and 2 there were parameter-free reshapes).
        self.add_module("0", ProjectReadout(dim))
        self.add_module("3", nn.Conv2d(dim, dim, 1))
        if downsample:
            self.add_module("4", nn.Conv2d(dim, dim, 3, stride=2, padding=1))

    def forward(self, tokens: torch.Tensor, gh: int, gw: int) -> torch.Tensor:
        x = self.get_submodule("0")(tokens).transpose(1, 2)  # [B, dim, N]
        x = self.get_submodule("3")(x.unflatten(2, (gh, gw)))  # [B, dim, gh, gw]
        return self.get_submodule("4")(x) if "4" in self._modules else x


class Encoder(nn.Module):
    """`pretrained`: the ViT plus the reassembly of taps 3 and 4 (taps 1 and 2 are trunk stages, used as they are)."""

    def __init__(self):
        super().__init__()
        self.model = VitHybrid()
        self.act_postprocess3 = Reassemble(768, downsample=False)
        self.act_postprocess4 = Reassemble(768, downsample=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        gh, gw = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        layer1, layer2, tokens3, tokens4 = self.model(x)
        return layer1, layer2, self.act_postprocess3(tokens3, gh, gw), self.act_postprocess4(tokens4, gh, gw)


class ResidualConvUnit(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """The coarser path plus this level's refined skip, refined again, upsampled ×2, mixed by a 1×1 conv."""

    def __init__(self, features: int):
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)
        self.out_conv = nn.Conv2d(features, features, 1)

    def forward(self, path: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            path = path + self.resConfUnit1(skip)
        path = self.resConfUnit2(path)
        path = F.interpolate(path, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(path)


class Head(nn.Sequential):
    """3×3 conv, ×2 bilinear upsample, 3×3 conv, ReLU, 1×1 conv to one channel, ReLU (depth is non-negative)."""

    def __init__(self, features: int):
        super().__init__()
        self.add_module("0", nn.Conv2d(features, features // 2, 3, padding=1))
        self.add_module("1", Upsample2())
        self.add_module("2", nn.Conv2d(features // 2, 32, 3, padding=1))
        self.add_module("3", nn.ReLU())
        self.add_module("4", nn.Conv2d(32, 1, 1))
        self.add_module("5", nn.ReLU())


class Upsample2(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Decoder(nn.Module):
    """`scratch`: each level to 256 channels, fused from the deepest up, then the head."""

    def __init__(self, widths=(256, 512, 768, 768), features: int = FEATURES):
        super().__init__()
        for i, width in enumerate(widths, start=1):
            self.add_module(f"layer{i}_rn", nn.Conv2d(width, features, 3, padding=1, bias=False))
            self.add_module(f"refinenet{i}", FusionBlock(features))
        self.output_conv = Head(features)

    def forward(self, layers: tuple[torch.Tensor, ...]) -> torch.Tensor:
        rn = [self.get_submodule(f"layer{i}_rn")(x) for i, x in enumerate(layers, start=1)]  # 256 ch, 1/4 … 1/32
        path = self.get_submodule("refinenet4")(rn[3])
        for i in (3, 2, 1):
            path = self.get_submodule(f"refinenet{i}")(path, rn[i - 1])
        return self.output_conv(path)  # [B, 1, H, W]


class DPTHybridDepth(nn.Module):
    """x [B, 3, H, W] in [-1, 1], H and W multiples of 32 → relative inverse depth [B, H, W] (larger = nearer)."""

    def __init__(self):
        super().__init__()
        self.pretrained = Encoder()
        self.scratch = Decoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scratch(self.pretrained(x)).squeeze(1)
