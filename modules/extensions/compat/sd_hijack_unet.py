"""A1111's `modules.sd_hijack_unet`: `th`, the stand-in for torch that ldm's UNet joins its skip connections with
(`th.cat([h, skip], dim=1)` before each output block). Extensions replace `th.cat` to work on the two halves
(sd-webui-freeu scales the backbone features and filters the skip features).

Easel's UNet is diffusers', whose up blocks join h and the skip features inside their forward, right before each of
their resnets. So for a UNet Easel runs (`attach`), each up-block resnet's input is split back into (h, skip) and
joined again by `th.cat` whenever an extension replaced it: what the replacement returns is what the resnet gets.
"""
from __future__ import annotations

import weakref

import torch

_attached: weakref.WeakSet = weakref.WeakSet()  # UNets whose up-block resnets join through th.cat


class TorchHijackForUnet:
    """torch's names, with a `cat` that first resizes h to the skip features' size when they differ (A1111's)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(torch, name)

    def cat(self, tensors, *args, **kwargs) -> torch.Tensor:
        if len(tensors) == 2 and tensors[0].shape[-2:] != tensors[1].shape[-2:]:
            h, skip = tensors
            tensors = (torch.nn.functional.interpolate(h, skip.shape[-2:], mode="nearest"), skip)
        return torch.cat(tensors, *args, **kwargs)


th = TorchHijackForUnet()


def cat_replaced() -> bool:
    return "cat" in vars(th)


def attach(unet: torch.nn.Module) -> None:
    """Route the skip joins of a diffusers UNet's up blocks through `th.cat` while it is replaced (idempotent)."""
    if unet in _attached or not hasattr(unet, "up_blocks"):
        return
    channels = unet.config.block_out_channels[-1]  # what the middle block hands the first up block
    for block in unet.up_blocks:
        for j, resnet in enumerate(block.resnets):
            backbone = channels if j == 0 else block.resnets[j - 1].out_channels
            resnet.register_forward_pre_hook(_joiner(backbone))
        channels = block.resnets[-1].out_channels
    _attached.add(unet)


def _joiner(backbone: int):
    """The pre-hook of one up-block resnet whose input is [h (backbone channels), skip] joined on channels."""
    def join(module, args):
        if not cat_replaced():
            return None
        x = args[0]  # [B, backbone + skip, H, W]
        return (th.cat([x[:, :backbone], x[:, backbone:]], dim=1), *args[1:])

    return join


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel's modules.sd_hijack_unet has th and TorchHijackForUnet; not {name}: A1111's other "
                         "UNet hijacks patch ldm classes, and Easel's UNet is diffusers' (docs/a1111-compat.md)")
