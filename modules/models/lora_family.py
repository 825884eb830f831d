"""Which model family a LoRA file was made for, read from its layer shapes, and the refusal when it is another one.

A LoRA adapts the weights of one architecture. On another family some of its layers can still fit by name and shape
(SD 1.x and SDXL both have 640-wide attention at their second level), so it would be applied in part: a few-step
LoRA half applied samples noise, not a picture. The cross-attention key and value layers (`attn2.to_k`,
`attn2.to_v`) take the text encoder's width, which tells the families apart (768 SD 1.x, 1024 SD 2.x, 2048 SDXL,
1280 the SDXL refiner), and layers for a second text encoder (kohya's `lora_te2_…`) need a model that has one.
A mismatch stops the job before any weight changes (docs/few-step-models.md).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from modules.errors import InvalidInput

WIDTH_FAMILIES = {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL", 1280: "the SDXL refiner"}
_CROSS_KV = re.compile(r"attn2_to_[kv]$")
SECOND_TEXT_ENCODER = "lora_te2_"


def family_of_width(width: int) -> str:
    """The family a cross-attention width belongs to, in words.

    >>> family_of_width(2048)
    'SDXL'
    >>> family_of_width(32)
    'a model with 32-wide text conditioning'
    """
    return WIDTH_FAMILIES.get(width, f"a model with {width}-wide text conditioning")


def cross_widths(inputs: Iterable[tuple[str, int]]) -> set[int]:
    """The input widths of the cross-attention key/value layers among (kohya layer name, input width) pairs.

    >>> sorted(cross_widths([("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k", 768),
    ...                      ("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_k", 320)]))
    [768]
    """
    return {width for name, width in inputs if _CROSS_KV.search(name)}


def lora_inputs(layers: Mapping) -> list[tuple[str, int]]:
    """(name, input width) of a parsed LoRA's layers (`LoraLayer`s), from their tensor shapes alone."""
    return [(name, int(layer.delta_2d()[1])) for name, layer in layers.items()]


def model_inputs(table: Mapping) -> list[tuple[str, int]]:
    """(kohya name, input width) of a model's UNet linear layers, from its LoRA module map."""
    return [(name, int(module.weight.shape[1])) for name, (part, module) in table.items()
            if part == "unet" and module.weight.ndim == 2]


def family_problem(lora_names: Iterable[str], lora_widths: set[int], model_names: Iterable[str],
                   model_widths: set[int]) -> str | None:
    """Why a LoRA does not belong to the model's family, or None when nothing says so.

    >>> family_problem(["lora_unet_x_attn2_to_k"], {768}, ["lora_unet_x_attn2_to_k"], {2048})
    'was made for SD 1.x (cross-attention width 768); the loaded model is SDXL (2048)'
    >>> family_problem(["lora_te2_text_model_encoder_layers_0_mlp_fc1"], set(), ["lora_te_a"], {768})
    'has layers for a second text encoder (SDXL); the loaded model has one'
    >>> family_problem(["lora_unet_x_attn2_to_k"], {768}, ["lora_unet_x_attn2_to_k"], {768}) is None
    True
    """
    if lora_widths and model_widths and not lora_widths & model_widths:
        made, have = min(lora_widths), min(model_widths)
        return (f"was made for {family_of_width(made)} (cross-attention width {made}); the loaded model is "
                f"{family_of_width(have)} ({have})")
    if any(n.startswith(SECOND_TEXT_ENCODER) for n in lora_names) and \
            not any(n.startswith(SECOND_TEXT_ENCODER) for n in model_names):
        return "has layers for a second text encoder (SDXL); the loaded model has one"
    return None


def check_family(network, table: Mapping) -> None:
    """Refuse a LoRA (`LoraNetwork`) made for another family than the model whose module map is `table`:
    InvalidInput on the prompt, naming the file and both families."""
    problem = family_problem(network.layers, cross_widths(lora_inputs(network.layers)), table,
                             cross_widths(model_inputs(table)))
    if problem:
        raise InvalidInput("prompt", f"<lora:{network.info.name}> ({network.info.path}) {problem}; it was not "
                                     f"applied and nothing was generated",
                           "a LoRA made for the loaded model's family, or a checkpoint of the LoRA's family")
