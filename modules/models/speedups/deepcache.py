"""Feature caching (DeepCache, Ma et al. 2023): the deep UNet features change little from one step to the next.

On every N-th sampling step the UNet runs in full and the input of the second layer of its last up block (the
output of that block's first layer: everything the deep levels contribute) is kept. On the other steps only the
shallow branch runs: `conv_in`, the first layers of the first down block (whose outputs are the skips the last up
block still needs), the remaining layers of the last up block on the kept feature, and the output layers.

The cache is keyed by step, not by call count: the sampling step comes from the pass (a sampler that calls the
model twice per step, as Heun does, reuses on both calls of a cached step), and within a step each call has its
own slot (by position and shapes), so CFG's cond and uncond calls and length groups never share a feature.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from modules.errors import InvalidInput

REUSED_FROM = 1  # the shallow branch runs the last up block from this layer on (DeepCache's branch 0)
# UNet arguments the shallow branch honours (SDXL's embeddings, ControlNet's residuals); with any other, every call
# runs in full
SHALLOW_KWARGS = {"added_cond_kwargs", "down_block_additional_residuals", "mid_block_additional_residual"}


def _layers(block) -> list[tuple[Any, Any]]:
    """(resnet, attention or None) pairs of a diffusers down or up block."""
    attentions = getattr(block, "attentions", None) or [None] * len(block.resnets)
    return list(zip(block.resnets, attentions))


def check_unet(unet) -> None:
    """Refuse, naming the setting, a UNet whose shape the shallow branch does not know."""
    config = unet.config
    first, last = unet.down_blocks[0], unet.up_blocks[-1]
    fits = (len(last.resnets) == len(first.resnets) + 1 and len(last.resnets) > REUSED_FROM
            and getattr(last, "upsamplers", None) is None and unet.class_embedding is None
            and not config.center_input_sample and config.addition_embed_type != "image_hint")
    if not fits:
        raise InvalidInput("deep_cache_interval", "this model's UNet has no shallow branch feature caching knows",
                           "1 (off) for this model")


def _apply(pair, h: torch.Tensor, emb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    resnet, attention = pair
    h = resnet(h, emb)
    return h if attention is None else attention(h, encoder_hidden_states=context, return_dict=False)[0]


def shallow_forward(unet, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, kept: torch.Tensor,
                    kwargs: dict[str, Any]) -> torch.Tensor:
    """The UNet's output for x [B, C, h, w] at t [B] from the kept deep feature `kept` [B, C0, h, w]."""
    added = kwargs.get("added_cond_kwargs") or {}
    emb = unet.time_embedding(unet.get_time_embed(sample=x, timestep=t), None)  # [B, D]
    aug = unet.get_aug_embed(emb=emb, encoder_hidden_states=context, added_cond_kwargs=added)
    emb = emb if aug is None else emb + aug
    emb = emb if unet.time_embed_act is None else unet.time_embed_act(emb)
    context = unet.process_encoder_hidden_states(encoder_hidden_states=context, added_cond_kwargs=added)
    h = unet.conv_in(x)  # [B, C0, h, w]
    up = _layers(unet.up_blocks[-1])
    skips = [h]
    for pair in _layers(unet.down_blocks[0])[:len(up) - 1 - REUSED_FROM]:
        h = _apply(pair, h, emb, context)
        skips.append(h)
    residuals = kwargs.get("down_block_additional_residuals")  # ControlNet's, in the order of the skips
    if residuals is not None:
        skips = [skip + residual for skip, residual in zip(skips, residuals)]
    h = kept
    for j in range(REUSED_FROM, len(up)):
        h = _apply(up[j], torch.cat([h, skips[len(up) - 1 - j]], dim=1), emb, context)
    if unet.conv_norm_out is not None:
        h = unet.conv_act(unet.conv_norm_out(h))
    return unet.conv_out(h)  # [B, C_out, h, w]


def full_forward(unet, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                 kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """(the UNet's output, the deep feature the shallow branch reuses) from one ordinary call."""
    seen: dict[str, torch.Tensor] = {}
    resnet, attention = _layers(unet.up_blocks[-1])[REUSED_FROM - 1]
    module = resnet if attention is None else attention

    def keep(mod, args, output):
        seen["feature"] = output[0] if isinstance(output, tuple) else output

    hook = module.register_forward_hook(keep)
    try:
        out = unet(x, t, encoder_hidden_states=context, return_dict=False, **kwargs)[0]
    finally:
        hook.remove()
    return out, seen["feature"]


class FeatureCache:
    """The kept features of one pass: full UNet on steps 0, N, 2N, …; the shallow branch in between."""

    def __init__(self, unet, interval: int, step: Callable[[], int]):
        check_unet(unet)
        self.unet, self.interval, self.step = unet, interval, step
        self._kept: dict[tuple, torch.Tensor] = {}
        self._step, self._slot = -1, 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, kwargs: dict[str, Any]):
        step = self.step()
        if step != self._step:
            if step < self._step:  # a new pass or batch: what was kept belongs to other latents
                self._kept.clear()
            self._step, self._slot = step, 0
        key = (self._slot, tuple(x.shape), tuple(context.shape))
        self._slot += 1
        kept = self._kept.get(key)
        if step % self.interval and kept is not None and set(kwargs) <= SHALLOW_KWARGS:
            return shallow_forward(self.unet, x, t, context, kept, kwargs)
        out, self._kept[key] = full_forward(self.unet, x, t, context, kwargs)
        return out
