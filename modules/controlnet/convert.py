"""ControlNet files → a diffusers `ControlNetModel` config and state dict, without a hub.

Layouts read (docs/controlnet.md, "Model files"):
- lllyasviel's original layout (v1.0 and v1.1): the UNet encoder's keys (`input_blocks`, `middle_block`,
  `time_embed`) plus `input_hint_block`, `zero_convs` and `middle_block_out`, under `control_model.` (v1.0 files that
  hold a whole SD model beside it) or bare (extracted files). Its yaml (`control_stage_config`) gives the architecture
  when one lies beside the file.
- diffusers' layout (`controlnet_cond_embedding.*`): a folder with `config.json`, or a lone weights file.

Without a config the architecture is the checkpoint's own UNet encoder: a ControlNet is a copy of the encoder of the
model it was trained on, so the UNet's config with the levels, depths, hint channels and cross-attention width read
from the file's shapes (modules/controlnet/shapes.py) describe it; SDXL ControlNets (diffusers' full, mid and small,
in either layout) included. The key conversion is diffusers' own (`convert_controlnet_checkpoint`).
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from modules.controlnet.shapes import EncoderShape, read_encoder
from modules.errors import ModelLoadError

CONTROL_PREFIX = "control_model."
ORIGINAL_HINT = "input_hint_block.0.weight"
DIFFUSERS_HINT = "controlnet_cond_embedding.conv_in.weight"
ORIGINAL_IN = "input_blocks.0.0.weight"
DIFFUSERS_IN = "conv_in.weight"
# SDXL's added-conditioning embedding: diffusers' name → the original layout's
ADDED_EMBEDDING = {f"add_embedding.linear_{i}.{p}": f"label_emb.0.{2 * (i - 1)}.{p}" for i in (1, 2)
                   for p in ("weight", "bias")}
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
                       unet_config: Mapping[str, Any], path: str = "the file") -> dict[str, Any]:
    """A ControlNetModel config for a file without one: the checkpoint UNet's (head sizes, time embedding, added
    conditioning), with what the file's shapes show: hint and input channels, encoder levels and channels, res
    blocks per level, attention depth per level and in the middle block (SDXL's full, mid and small ControlNets
    differ there), projections and cross-attention width. A misfit with the checkpoint is reported by the caller."""
    encoder = read_encoder(shapes, layout, prefix)
    hint = shapes[prefix + (ORIGINAL_HINT if layout == "original" else DIFFUSERS_HINT)]  # [16, hint ch, 3, 3]
    first = shapes.get(prefix + (ORIGINAL_IN if layout == "original" else DIFFUSERS_IN))  # [C, in ch, 3, 3]
    overrides: dict[str, Any] = {"conditioning_channels": int(hint[1])}
    if first is not None:
        overrides["in_channels"] = int(first[1])
    if encoder.cross_width is not None:
        overrides["cross_attention_dim"] = encoder.cross_width
    if encoder.linear_projection is not None:
        overrides["use_linear_projection"] = encoder.linear_projection
    if encoder.block_out_channels:
        overrides.update(encoder_layout(encoder, path))
    return from_unet_config(unet_config, **overrides)


def encoder_layout(encoder: EncoderShape, path: str) -> dict[str, Any]:
    """ControlNetModel's block fields for an encoder. diffusers gives the middle block the last level's
    transformer depth, so the two must agree where both have attention.

    >>> from modules.controlnet.shapes import EncoderShape
    >>> layout = encoder_layout(EncoderShape((320, 640, 1280), 2, (None, 0, 1), 1, True, 2816, 2048), "f")
    >>> layout["down_block_types"], layout["transformer_layers_per_block"], layout["mid_block_type"]
    (['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], [1, 0, 1], 'UNetMidBlock2DCrossAttn')
    """
    depths, mid = list(encoder.depths), encoder.mid_depth
    if depths[-1] is not None and mid is not None and depths[-1] != mid:
        raise ModelLoadError(path, f"its last encoder level has {depths[-1]} transformer layers but its middle "
                                   f"block {mid}; such a ControlNet is not supported")
    last = depths[-1] if depths[-1] is not None else (mid if mid is not None else 1)
    per_level = [d if d is not None else 1 for d in depths[:-1]] + [last]
    return {"block_out_channels": list(encoder.block_out_channels), "layers_per_block": encoder.layers_per_block,
            "down_block_types": ["DownBlock2D" if d is None else "CrossAttnDownBlock2D" for d in depths],
            "transformer_layers_per_block": per_level,
            "mid_block_type": "UNetMidBlock2D" if mid is None else "UNetMidBlock2DCrossAttn"}


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
    out = {k: v for k, v in converted.items() if v is not None}
    prefix = CONTROL_PREFIX if any(k.startswith(CONTROL_PREFIX) for k in weights) else ""
    for ours, theirs in ADDED_EMBEDDING.items():  # SDXL's (diffusers' converter leaves them out)
        if prefix + theirs in weights:
            out[ours] = weights[prefix + theirs]
    return out
