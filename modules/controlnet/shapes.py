"""What a ControlNet file's tensor shapes say about its architecture and model family, read without loading it.

A ControlNet is a copy of its model's UNet encoder, so the file's keys and shapes give the encoder's levels, channels,
res blocks per level, attention depth per level and in the middle block, and whether it takes SDXL's added
conditioning (pooled text and size embeddings: `add_embedding` in diffusers' layout, `label_emb` in the original).
SDXL ControlNets come at several depths (diffusers' `controlnet-canny-sdxl-1.0` full, `-mid`, `-small`: attention
blocks with 10, 1 or no transformer layers), so the depths are read from the file, never assumed from the checkpoint.
Shapes are tuples of ints keyed by tensor name (a safetensors header, or a state dict's `.shape`s).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

Shapes = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class EncoderShape:
    """A ControlNet encoder as its tensors show it. A depth of None: that level has no attention block at all; 0: an
    attention block whose transformer has no layers (only its norm and projections, as SDXL's small variants)."""

    block_out_channels: tuple[int, ...]
    layers_per_block: int
    depths: tuple[int | None, ...]  # per level
    mid_depth: int | None
    linear_projection: bool | None  # attention projections as Linear (SD 2.x, SDXL) or 1×1 conv; None: no attention
    added_in: int | None  # the added-conditioning embedding's input width (SDXL: 2816), None without one
    cross_width: int | None  # the text width cross-attention reads, None without cross-attention

    @property
    def family(self) -> str:
        """"sdxl" with added conditioning, else "sd" (SD 1.x and 2.x differ only in their text width)."""
        return "sdxl" if self.added_in is not None else "sd"


def _count(shapes: Shapes, pattern: str) -> int:
    """How many distinct numbers fill the `(\\d+)` of `pattern` among the keys."""
    regex = re.compile(pattern)
    return len({m.group(1) for k in shapes if (m := regex.match(k))})


def _depth(shapes: Shapes, attention: str) -> int | None:
    """Transformer layers of the attention block whose keys start with `attention` (None when there is none)."""
    if attention + "norm.weight" not in shapes:
        return None
    return _count(shapes, re.escape(attention) + r"transformer_blocks\.(\d+)\.")


def _linear(shapes: Shapes, attention_prefixes) -> bool | None:
    for prefix in attention_prefixes:
        proj = shapes.get(prefix + "proj_in.weight")
        if proj is not None:
            return len(proj) == 2
    return None


def cross_width(shapes: Shapes) -> int | None:
    """The text width a ControlNet's cross-attention reads (its first `attn2.to_k` weight is [inner, width]).

    >>> cross_width({"control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768)})
    768
    """
    for key in sorted(shapes):
        if key.endswith("attn2.to_k.weight"):
            return int(shapes[key][-1])
    return None


def read_diffusers(shapes: Shapes) -> EncoderShape:
    """The encoder of a diffusers-layout ControlNet (`down_blocks.i.resnets.j`, `mid_block`, `add_embedding`).

    >>> s = {"down_blocks.0.resnets.0.conv1.weight": (32, 32, 3, 3), "down_blocks.0.resnets.1.conv1.weight": (32,),
    ...      "down_blocks.1.resnets.0.conv1.weight": (64, 32, 3, 3), "down_blocks.1.attentions.0.norm.weight": (64,),
    ...      "down_blocks.1.attentions.0.proj_in.weight": (64, 64),
    ...      "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (64, 80),
    ...      "down_blocks.1.attentions.0.transformer_blocks.1.norm1.weight": (64,),
    ...      "mid_block.attentions.0.norm.weight": (64,),
    ...      "mid_block.attentions.0.transformer_blocks.0.norm1.weight": (64,),
    ...      "mid_block.attentions.0.transformer_blocks.1.norm1.weight": (64,),
    ...      "add_embedding.linear_1.weight": (128, 808)}
    >>> e = read_diffusers(s)
    >>> e.block_out_channels, e.layers_per_block, e.depths, e.mid_depth, e.linear_projection, e.added_in, e.family
    ((32, 64), 2, (None, 2), 2, True, 808, 'sdxl')
    """
    levels = _count(shapes, r"down_blocks\.(\d+)\.resnets\.")
    channels = tuple(int(shapes[f"down_blocks.{i}.resnets.0.conv1.weight"][0]) for i in range(levels))
    layers = _count(shapes, r"down_blocks\.0\.resnets\.(\d+)\.")
    depths = tuple(_depth(shapes, f"down_blocks.{i}.attentions.0.") for i in range(levels))
    added = shapes.get("add_embedding.linear_1.weight")
    prefixes = [f"down_blocks.{i}.attentions.0." for i in range(levels)] + ["mid_block.attentions.0."]
    return EncoderShape(channels, layers, depths, _depth(shapes, "mid_block.attentions.0."),
                        _linear(shapes, prefixes), None if added is None else int(added[1]), cross_width(shapes))


def read_original(shapes: Shapes, prefix: str = "") -> EncoderShape:
    """The encoder of an original-layout ControlNet (`input_blocks.k`, `middle_block`, `label_emb`), keys under
    `prefix`. Input block k ≥ 1 is pair j of level i with k = 1 + i·(L + 1) + j; j = L is the level's downsampler.

    >>> s = {"input_blocks.1.0.out_layers.3.weight": (32,), "input_blocks.2.0.op.weight": (32,),
    ...      "input_blocks.3.0.out_layers.3.weight": (64,), "input_blocks.3.1.norm.weight": (64,),
    ...      "input_blocks.3.1.proj_in.weight": (64, 64, 1, 1),
    ...      "input_blocks.3.1.transformer_blocks.0.attn2.to_k.weight": (64, 768),
    ...      "middle_block.1.norm.weight": (64,), "middle_block.1.transformer_blocks.0.norm1.weight": (64,)}
    >>> e = read_original(s)
    >>> e.block_out_channels, e.layers_per_block, e.depths, e.mid_depth, e.linear_projection, e.cross_width, e.family
    ((32, 64), 1, (None, 1), 1, False, 768, 'sd')
    """
    bare = {k[len(prefix):]: v for k, v in shapes.items() if k.startswith(prefix)}
    ops = sorted(int(m.group(1)) for k in bare if (m := re.match(r"input_blocks\.(\d+)\.0\.op\.weight$", k)))
    blocks = _count(bare, r"input_blocks\.(\d+)\.")
    layers = ops[0] - 1 if ops else blocks - 1
    firsts: list[int] = []
    while f"input_blocks.{1 + len(firsts) * (layers + 1)}.0.out_layers.3.weight" in bare:
        firsts.append(1 + len(firsts) * (layers + 1))
    channels = tuple(int(bare[f"input_blocks.{k}.0.out_layers.3.weight"][0]) for k in firsts)
    depths = tuple(_depth(bare, f"input_blocks.{k}.1.") for k in firsts)
    added = bare.get("label_emb.0.0.weight")
    prefixes = [f"input_blocks.{k}.1." for k in firsts] + ["middle_block.1."]
    return EncoderShape(channels, layers, depths, _depth(bare, "middle_block.1."), _linear(bare, prefixes),
                        None if added is None else int(added[1]), cross_width(bare))


def read_encoder(shapes: Shapes, layout: str, prefix: str = "") -> EncoderShape:
    """`layout`: "original" or "diffusers" (modules/controlnet/convert.py `file_layout`)."""
    return read_original(shapes, prefix) if layout == "original" else read_diffusers(shapes)


def family_name(family: str) -> str:
    """How messages name a family.

    >>> family_name("sdxl"), family_name("sd")
    ('SDXL', 'SD 1.x/2.x')
    """
    return "SDXL" if family == "sdxl" else "SD 1.x/2.x"


def unet_family(unet_config: Mapping) -> str:
    """The family of a checkpoint's UNet config: SDXL's takes added text/time conditioning.

    >>> unet_family({"addition_embed_type": "text_time"}), unet_family({"cross_attention_dim": 768})
    ('sdxl', 'sd')
    """
    return "sdxl" if unet_config.get("addition_embed_type") == "text_time" else "sd"
