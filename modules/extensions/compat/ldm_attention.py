"""`ldm.modules.attention`: the feed-forward building blocks extensions build their own networks from (AnimateDiff's
motion modules take FeedForward), with ldm's parameter names so their weight files load. The module's attention
and transformer classes are absent with a reason: Easel's UNet is a diffusers class (modules/models), so patching
them would change nothing."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from modules.extensions.compat.absent import REASON_LDM_MODEL_CODE


class GEGLU(nn.Module):
    """A linear layer to twice the width whose second half, through GELU, gates the first."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)  # [..., dim_out] each
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """Linear up to `mult`·dim (GELU, or GEGLU with `glu`), dropout, linear down to `dim_out` (default `dim`).
    Parameters are `net.0.…` (the widening layer), `net.2.…` (the narrowing one), as in ldm's weight files."""

    def __init__(self, dim: int, dim_out: int | None = None, mult: float = 4, glu: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        inner = int(dim * mult)
        widen = GEGLU(dim, inner) if glu else nn.Sequential(nn.Linear(dim, inner), nn.GELU())
        self.net = nn.Sequential(widen, nn.Dropout(dropout), nn.Linear(inner, dim if dim_out is None else dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def exists(value) -> bool:
    return value is not None


def default(value, fallback):
    """`value` unless it is None, else `fallback` (called first when it is a function)."""
    if value is not None:
        return value
    return fallback() if callable(fallback) else fallback


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no ldm.modules.attention.{name}: {REASON_LDM_MODEL_CODE} (docs/a1111-compat.md)")
