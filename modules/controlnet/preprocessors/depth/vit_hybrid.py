"""The ViT-B/16 hybrid encoder of MiDaS DPT-Hybrid: ResNet-v2 features → 1×1 patch projection → 12 transformer
blocks, with its 24×24 position grid resized to the input (any multiple of 32 works, not only 384).

Parameter names follow `dpt_hybrid-midas-501f0c75.pt` under `pretrained.model.` (`patch_embed.backbone`,
`blocks.N.attn.qkv`, …). `forward` returns what the depth decoder taps: stage 0 and 1 of the trunk and the tokens
after blocks 8 and 11 (before the final norm).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.controlnet.preprocessors.depth.resnet_v2 import ResNetV2

LN_EPS = 1e-6
PATCH = 16
TAPPED_BLOCKS = (8, 11)


class HybridEmbed(nn.Module):
    def __init__(self, dim: int = 768, features: int = 1024):
        super().__init__()
        self.backbone = ResNetV2()
        self.proj = nn.Conv2d(features, dim, 1)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # [B, h, N, d] each
        out = F.scaled_dot_product_attention(q, k, v)  # [B, h, N, d]
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VitHybrid(nn.Module):
    def __init__(self, dim: int = 768, depth: int = 12, heads: int = 12, grid: int = 24):
        super().__init__()
        self.patch_embed = HybridEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)  # stored in the file; the decoder taps blocks before it

    def position_embedding(self, gh: int, gw: int) -> torch.Tensor:
        """The class token's embedding and the square grid's, bilinearly resized to gh×gw: [1, 1 + gh·gw, dim]."""
        cls, grid = self.pos_embed[:, :1], self.pos_embed[0, 1:]
        side = int(round(grid.shape[0] ** 0.5))
        grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)  # [1, dim, side, side]
        grid = F.interpolate(grid, size=(gh, gw), mode="bilinear", align_corners=False)
        return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x [B, 3, H, W] in [-1, 1] → (stage 0 [B, 256, H/4, W/4], stage 1 [B, 512, H/8, W/8],
        block 8 tokens [B, 1 + H/16·W/16, 768], block 11 tokens [same])."""
        gh, gw = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        stages = self.patch_embed.backbone(x)
        tokens = self.patch_embed.proj(stages[-1]).flatten(2).transpose(1, 2)  # [B, gh·gw, dim]
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = tokens + self.position_embedding(gh, gw)
        taps = []
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in TAPPED_BLOCKS:
                taps.append(tokens)
        return stages[0], stages[1], *taps
