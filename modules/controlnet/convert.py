"""ControlNet files → a diffusers `ControlNetModel` config and state dict, without a hub.

Layouts read (docs/controlnet.md, "Model files"):
- lllyasviel's original layout (v1.0 and v1.1): the UNet encoder's keys (`input_blocks`, `middle_block`,
  `time_embed`) plus `input_hint_block`, `zero_convs` and `middle_block_out`, under `control_model.` (v1.0 files that
  hold a whole SD model beside it) or bare (extracted files). Its yaml (`control_stage_config`) gives the architecture
  when one lies beside the file.
- diffusers' layout (`controlnet_cond_embedding.*`): a folder with `config.json`, or a lone weights file.

Without a config the architecture is the checkpoint's own UNet encoder: a ControlNet is a copy of the encoder of the
model it was trained on, so the UNet's config, the hint channels and the cross-attention width read from the file's
shapes describe it. The key conversion is diffusers' own (`convert_controlnet_checkpoint`).
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from modules.errors import ModelLoadError

CONTROL_PREFIX = "control_model."
ORIGINAL_HINT = "input_hint_block.0.weight"
DIFFUSERS_HINT = "controlnet_cond_embedding.conv_in.weight"
ORIGINAL_IN = "input_blocks.0.0.weight"
DIFFUSERS_IN = "conv_in.weight"
# a default SD 1.x first stage, for ControlNet yamls that leave the VAE out (diffusers' builder reads its depth)
DEFAULT_DDCONFIG = {"ch_mult": [1, 2, 4, 4]}


def file_layout(keys) -> tuple[str, str]:
    """("original" | "diffusers", key prefix) of a ControlNet's keys; anything else is not a ControlNet we read.

    >>> file_layout(["control_model.input_hint_block.0.weight", "model.diffusion_model.x"])
    ('original', 'control_model.')
    >>> file_layout(["input_hint_block.0.weight"]), file_layout(["controlnet_cond_embedding.conv_in.weight"])
    (('original', ''), ('diffusers', ''))
    """
    keys = set(keys)
    for prefix in (CONTROL_PREFIX, ""):
        if prefix + ORIGINAL_HINT in keys:
            return "original", prefix
    if DIFFUSERS_HINT in keys:
        return "diffusers", ""
    if "lora_controlnet" in keys:
        raise ValueError("a Control-LoRA (not supported yet)")
    if any(k.startswith(("adapter.", "body.")) for k in keys):
        raise ValueError("a T2I-Adapter, not a ControlNet (not supported yet)")
    raise ValueError("not a ControlNet (no hint encoder: input_hint_block / controlnet_cond_embedding)")


def controlnet_params() -> frozenset[str]:
    """The keyword arguments `ControlNetModel` takes."""
    from diffusers import ControlNetModel

    return frozenset(inspect.signature(ControlNetModel.__init__).parameters) - {"self"}


def from_unet_config(unet_config: Mapping[str, Any], **overrides) -> dict[str, Any]:
    """A ControlNetModel config mirroring a UNet2DConditionModel config (the encoder half), with `overrides`.

    The hint encoder keeps the original 16/32/96/256 widths (`input_hint_block.0` … `.14` in every lllyasviel file).
    """
    params = controlnet_params()
    config = {k: copy.deepcopy(v) for k, v in dict(unet_config).items() if k in params}
    config.update(overrides)
    return config


def config_from_yaml(original_config: Mapping, path: str) -> tuple[dict[str, Any], bool]:
    """(ControlNetModel config, global average pooling) from a cldm yaml's `control_stage_config`."""
    from diffusers.loaders import single_file_utils as sfu

    from modules.models.components import NO_SHAPE_HINTS

    try:
        model_params = original_config["model"]["params"]
        control = dict(model_params["control_stage_config"]["params"])
        as_unet = {"model": {"params": {
            "unet_config": {"params": control},
            "first_stage_config": model_params.get("first_stage_config") or {"params": {"ddconfig": DEFAULT_DDCONFIG}},
        }}}
        unet_config = sfu.create_unet_diffusers_config_from_ldm(as_unet, NO_SHAPE_HINTS)
        config = from_unet_config(unet_config, conditioning_channels=int(control.get("hint_channels", 3)))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise ModelLoadError(path, f"its yaml is not a ControlNet config ({type(e).__name__}: {e})") from None
    return config, bool(control.get("global_average_pooling", False))


def config_from_shapes(shapes: Mapping[str, tuple[int, ...]], layout: str, prefix: str,
                       unet_config: Mapping[str, Any]) -> dict[str, Any]:
    """A ControlNetModel config for a file without one: the checkpoint UNet's encoder, with the hint channels, input
    channels and cross-attention width the file's shapes show (a misfit is then reported by the caller)."""
    hint = shapes[prefix + (ORIGINAL_HINT if layout == "original" else DIFFUSERS_HINT)]  # [16, hint ch, 3, 3]
    first = shapes.get(prefix + (ORIGINAL_IN if layout == "original" else DIFFUSERS_IN))  # [C, in ch, 3, 3]
    overrides: dict[str, Any] = {"conditioning_channels": int(hint[1])}
    if first is not None:
        overrides["in_channels"] = int(first[1])
    width = cross_attention_width(shapes)
    if width is not None:
        overrides["cross_attention_dim"] = width
    return from_unet_config(unet_config, **overrides)


def cross_attention_width(shapes: Mapping[str, tuple[int, ...]]) -> int | None:
    """The text width a ControlNet's cross-attention reads (its first `attn2.to_k` weight is [inner, width]).

    >>> cross_attention_width({"control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768)})
    768
    """
    for key in sorted(shapes):
        if key.endswith("attn2.to_k.weight"):
            return int(shapes[key][-1])
    return None


def convert_original(weights: Mapping, config: Mapping[str, Any], path: str) -> dict:
    """Original-layout tensors (`weights`, keys with or without `control_model.`) → diffusers' names."""
    from diffusers.loaders import single_file_utils as sfu

    if "difference" in weights:
        raise ModelLoadError(path, "a 'difference' ControlNet (weights relative to SD 1.5) is not supported; use "
                                   "the plain v1.0/v1.1 file")
    try:
        converted = sfu.convert_controlnet_checkpoint(weights, dict(config))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise ModelLoadError(path, f"cannot convert its ControlNet weights ({type(e).__name__}: {e})") from None
    return {k: v for k, v in converted.items() if v is not None}
