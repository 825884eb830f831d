"""Diffusers → original (LDM / CompVis single-file) key layout, the reverse of diffusers' single-file conversion.

The tables are those of diffusers' `scripts/convert_diffusers_to_original_stable_diffusion.py`, written as rules
over block indices so they hold for any number of levels and res blocks (the tiny test models as well as SD1).
The forward direction is diffusers' own `convert_ldm_*_checkpoint`; tests check the round trip is exact.
Used to write tiny test checkpoints, the full-size test checkpoint and (later) the built-in model.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from modules.models.probes import (CLIP_L_PREFIX, REFINER_CLIP_G_PREFIX, SDXL_CLIP_G_PREFIX,  # noqa: F401
                                   SDXL_CLIP_L_PREFIX, UNET_PREFIX)

VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = CLIP_L_PREFIX + "text_model."

# (diffusers, ldm) renames inside one resnet, UNet flavour.
UNET_RESNET_RENAMES = (
    ("norm1.", "in_layers.0."),
    ("conv1.", "in_layers.2."),
    ("time_emb_proj.", "emb_layers.1."),
    ("norm2.", "out_layers.0."),
    ("conv2.", "out_layers.3."),
    ("conv_shortcut.", "skip_connection."),
)

UNET_FIXED = {
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "conv_in.": "input_blocks.0.0.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
    "add_embedding.linear_1.": "label_emb.0.0.",  # SDXL's pooled-text + time-id embedding
    "add_embedding.linear_2.": "label_emb.0.2.",
}

# (diffusers, ldm) renames inside the VAE's mid-block attention.
VAE_ATTN_RENAMES = (
    ("group_norm.", "norm."),
    ("to_q.", "q."),
    ("to_k.", "k."),
    ("to_v.", "v."),
    ("to_out.0.", "proj_out."),
)

VAE_FIXED = {
    "quant_conv.": "quant_conv.",
    "post_quant_conv.": "post_quant_conv.",
    "encoder.conv_in.": "encoder.conv_in.",
    "encoder.conv_out.": "encoder.conv_out.",
    "encoder.conv_norm_out.": "encoder.norm_out.",
    "decoder.conv_in.": "decoder.conv_in.",
    "decoder.conv_out.": "decoder.conv_out.",
    "decoder.conv_norm_out.": "decoder.norm_out.",
}


def _rename(rest: str, renames: Sequence[tuple[str, str]]) -> str:
    for old, new in renames:
        if rest.startswith(old):
            return new + rest[len(old):]
    return rest


def _fixed(key: str, table: Mapping[str, str]) -> str | None:
    for old, new in table.items():
        if key.startswith(old):
            return new + key[len(old):]
    return None


def unet_key_to_ldm(key: str, config: Mapping) -> str:
    """One diffusers UNet2DConditionModel key → its `model.diffusion_model.*` key.

    >>> cfg = {"layers_per_block": 2, "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3}
    >>> unet_key_to_ldm("down_blocks.1.resnets.0.norm1.weight", cfg)
    'model.diffusion_model.input_blocks.4.0.in_layers.0.weight'
    >>> unet_key_to_ldm("up_blocks.0.upsamplers.0.conv.bias", cfg)
    'model.diffusion_model.output_blocks.2.1.conv.bias'
    >>> unet_key_to_ldm("up_blocks.1.upsamplers.0.conv.bias", cfg)
    'model.diffusion_model.output_blocks.5.2.conv.bias'
    """
    per_level = config["layers_per_block"] + 1
    fixed = _fixed(key, UNET_FIXED)
    if fixed is not None:
        return UNET_PREFIX + fixed
    m = re.match(r"(down|up)_blocks\.(\d+)\.(resnets|attentions|downsamplers|upsamplers)\.(\d+)\.(.*)", key)
    if m:
        side, level, part, j, rest = m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), m.group(5)
        return UNET_PREFIX + _unet_block_key(side, level, part, j, rest, per_level, config)
    m = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:
        part, j, rest = m.group(1), int(m.group(2)), m.group(3)
        if part == "resnets":
            return UNET_PREFIX + f"middle_block.{2 * j}." + _rename(rest, UNET_RESNET_RENAMES)
        return UNET_PREFIX + f"middle_block.1.{rest}"
    raise KeyError(f"no original-layout name for UNet key {key!r}")


def _unet_block_key(side: str, level: int, part: str, j: int, rest: str, per_level: int, config: Mapping) -> str:
    if side == "down":
        if part == "downsamplers":
            return f"input_blocks.{per_level * (level + 1)}.0.op." + rest.removeprefix("conv.")
        index = per_level * level + j + 1
        if part == "resnets":
            return f"input_blocks.{index}.0." + _rename(rest, UNET_RESNET_RENAMES)
        return f"input_blocks.{index}.1.{rest}"
    if part == "upsamplers":
        has_attention = config["up_block_types"][level].startswith("CrossAttn")
        return f"output_blocks.{per_level * level + per_level - 1}.{2 if has_attention else 1}.{rest}"
    index = per_level * level + j
    if part == "resnets":
        return f"output_blocks.{index}.0." + _rename(rest, UNET_RESNET_RENAMES)
    return f"output_blocks.{index}.1.{rest}"


def vae_key_to_ldm(key: str, config: Mapping) -> str:
    """One diffusers AutoencoderKL key → its `first_stage_model.*` key (decoder levels count the other way).

    >>> cfg = {"up_block_types": ["UpDecoderBlock2D"] * 4}
    >>> vae_key_to_ldm("decoder.up_blocks.0.resnets.2.conv_shortcut.weight", cfg)
    'first_stage_model.decoder.up.3.block.2.nin_shortcut.weight'
    >>> vae_key_to_ldm("encoder.mid_block.attentions.0.to_out.0.bias", cfg)
    'first_stage_model.encoder.mid.attn_1.proj_out.bias'
    """
    fixed = _fixed(key, VAE_FIXED)
    if fixed is not None:
        return VAE_PREFIX + fixed
    levels = len(config["up_block_types"])
    m = re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.*)", key)
    if m:
        coder, side, level, part, j, rest = m.groups()
        level = int(level) if side == "down" else levels - 1 - int(level)
        if part == "resnets":
            rest = rest.replace("conv_shortcut.", "nin_shortcut.")
            return VAE_PREFIX + f"{coder}.{side}.{level}.block.{j}.{rest}"
        return VAE_PREFIX + f"{coder}.{side}.{level}.{side}sample.{rest}"
    m = re.match(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:
        coder, part, j, rest = m.groups()
        if part == "resnets":
            return VAE_PREFIX + f"{coder}.mid.block_{int(j) + 1}.{rest.replace('conv_shortcut.', 'nin_shortcut.')}"
        return VAE_PREFIX + f"{coder}.mid.attn_1." + _rename(rest, VAE_ATTN_RENAMES)
    raise KeyError(f"no original-layout name for VAE key {key!r}")


def text_encoder_key_to_ldm(key: str, prefix: str = CLIP_L_PREFIX) -> str:
    """A transformers CLIPTextModel key (flat or with `text_model.`) → `<prefix>text_model.*` (SD 1.x's prefix
    by default).

    >>> text_encoder_key_to_ldm("encoder.layers.0.mlp.fc1.weight")
    'cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight'
    >>> text_encoder_key_to_ldm("text_model.final_layer_norm.bias", SDXL_CLIP_L_PREFIX)
    'conditioner.embedders.0.transformer.text_model.final_layer_norm.bias'
    """
    return prefix + "text_model." + key.removeprefix("text_model.")


def _is_vae_attention_weight(ldm_key: str) -> bool:
    return bool(re.search(r"mid\.attn_1\.(q|k|v|proj_out)\.weight$", ldm_key))


def unet_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """A diffusers UNet state dict in the original layout; tensors are passed through untouched."""
    return {unet_key_to_ldm(k, config): v for k, v in state_dict.items()}


def vae_to_ldm(state_dict: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """A diffusers VAE state dict in the original layout; attention linears become 1x1 convs as LDM stores them."""
    out = {}
    for key, value in state_dict.items():
        ldm_key = vae_key_to_ldm(key, config)
        if _is_vae_attention_weight(ldm_key) and value.ndim == 2:
            value = value.reshape(*value.shape, 1, 1)  # [C, C] -> [C, C, 1, 1]
        out[ldm_key] = value
    return out


def text_encoder_to_ldm(state_dict: Mapping[str, torch.Tensor],
                        prefix: str = CLIP_L_PREFIX) -> dict[str, torch.Tensor]:
    """A transformers CLIPTextModel state dict in the original layout, under `prefix`."""
    return {text_encoder_key_to_ldm(k, prefix): v for k, v in state_dict.items()}


OPENCLIP_BLOCK_RENAMES = (  # (transformers, OpenCLIP) inside one text-transformer block
    ("self_attn.out_proj.", "attn.out_proj."),
    ("layer_norm1.", "ln_1."),
    ("layer_norm2.", "ln_2."),
    ("mlp.fc1.", "mlp.c_fc."),
    ("mlp.fc2.", "mlp.c_proj."),
)


def openclip_text_to_ldm(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A transformers CLIPTextModel(WithProjection) state dict in OpenCLIP's layout under `prefix`: q/k/v fused
    into `in_proj`, `ln_final`, `positional_embedding` and `text_projection` stored [width, proj] (the transpose
    of the Linear weight); the inverse of diffusers' `convert_open_clip_checkpoint`."""
    sd = {k.removeprefix("text_model."): v for k, v in state_dict.items() if not k.endswith("position_ids")}
    out = {prefix + "token_embedding.weight": sd.pop("embeddings.token_embedding.weight"),
           prefix + "positional_embedding": sd.pop("embeddings.position_embedding.weight"),  # [77, W]
           prefix + "ln_final.weight": sd.pop("final_layer_norm.weight"),
           prefix + "ln_final.bias": sd.pop("final_layer_norm.bias")}
    if "text_projection.weight" in sd:
        out[prefix + "text_projection"] = sd.pop("text_projection.weight").T.contiguous()  # [W, P]
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"encoder\.layers\.(\d+)\.", k))})
    for i in blocks:
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for part in ("weight", "bias"):
            out[dst + f"attn.in_proj_{part}"] = torch.cat(
                [sd.pop(src + f"self_attn.{p}_proj.{part}") for p in "qkv"])  # [3W, W] / [3W]
        for key in [k for k in sd if k.startswith(src)]:
            out[dst + _rename(key.removeprefix(src), OPENCLIP_BLOCK_RENAMES)] = sd.pop(key)
    if sd:
        raise KeyError(f"no OpenCLIP name for text-encoder keys {sorted(sd)[:3]}")
    return out
