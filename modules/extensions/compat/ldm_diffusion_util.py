"""`ldm.modules.diffusionmodules.util`: the building blocks extensions take from it to build their own networks
(ControlNet-style adapters, timestep embeddings). Plain torch functions; they do not reach Easel's UNet, which is a
diffusers class (modules/models)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def timestep_embedding(timesteps, dim: int, max_period: int = 10000, repeat_only: bool = False):
    """Sinusoidal embeddings of timesteps [N] → [N, dim]: cosines then sines of t·max_period^(−i/half)."""
    if repeat_only:
        return timesteps[:, None].repeat(1, dim)  # [N, dim]
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
                      / half)  # [half]
    args = timesteps[:, None].float() * freqs[None]  # [N, half]
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # [N, 2·half]
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)  # [N, dim]
    return embedding


def zero_module(module: nn.Module) -> nn.Module:
    """The module with every parameter set to zero (returned for chaining)."""
    for p in module.parameters():
        p.detach().zero_()
    return module


def scale_module(module: nn.Module, scale: float) -> nn.Module:
    for p in module.parameters():
        p.detach().mul_(scale)
    return module


def mean_flat(tensor):
    return tensor.mean(dim=list(range(1, len(tensor.shape))))


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input's dtype."""

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def normalization(channels: int) -> nn.Module:
    return GroupNorm32(32, channels)


def conv_nd(dims: int, *args, **kwargs) -> nn.Module:
    layers = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
    if dims not in layers:
        raise ValueError(f"unsupported dimensions: {dims}")
    return layers[dims](*args, **kwargs)


def linear(*args, **kwargs) -> nn.Module:
    return nn.Linear(*args, **kwargs)


def avg_pool_nd(dims: int, *args, **kwargs) -> nn.Module:
    layers = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
    if dims not in layers:
        raise ValueError(f"unsupported dimensions: {dims}")
    return layers[dims](*args, **kwargs)


def checkpoint(func, inputs, params, flag):
    """func(*inputs), through torch's gradient checkpointing when `flag` is true (training saves memory)."""
    if flag:
        return torch.utils.checkpoint.checkpoint(func, *inputs, use_reentrant=False)
    return func(*inputs)


def extract_into_tensor(a, t, x_shape):
    """a[t] per batch row, shaped [B, 1, 1, …] to broadcast against x_shape."""
    out = a.gather(-1, t)  # [B]
    return out.reshape(t.shape[0], *((1,) * (len(x_shape) - 1)))


def noise_like(shape, device, repeat: bool = False):
    if repeat:
        return torch.randn((1, *shape[1:]), device=device).repeat(shape[0], *((1,) * (len(shape) - 1)))
    return torch.randn(shape, device=device)


def make_beta_schedule(schedule: str, n_timestep: int, linear_start: float = 1e-4, linear_end: float = 2e-2,
                       cosine_s: float = 8e-3) -> np.ndarray:
    """Betas [n_timestep] of the named schedule (SD's own is "linear": linear in sqrt(beta))."""
    if schedule == "linear":
        return (torch.linspace(linear_start ** 0.5, linear_end ** 0.5, n_timestep, dtype=torch.float64) ** 2).numpy()
    if schedule == "cosine":
        steps = torch.arange(n_timestep + 1, dtype=torch.float64) / n_timestep + cosine_s
        alphas = torch.cos(steps / (1 + cosine_s) * np.pi / 2).pow(2)
        alphas = alphas / alphas[0]
        return np.clip((1 - alphas[1:] / alphas[:-1]).numpy(), a_min=0, a_max=0.999)
    if schedule == "sqrt_linear":
        return torch.linspace(linear_start, linear_end, n_timestep, dtype=torch.float64).numpy()
    if schedule == "sqrt":
        return (torch.linspace(linear_start, linear_end, n_timestep, dtype=torch.float64) ** 0.5).numpy()
    raise ValueError(f"schedule '{schedule}' unknown.")
