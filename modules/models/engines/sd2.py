"""SD 2.x: the OpenCLIP ViT-H/14 text tower read at its penultimate block, a UNet with linear transformer
projections and 64-channel heads, ε (512 px base models) or v prediction (768 px models).

The text tower's weights sit under `cond_stage_model.model.` in OpenCLIP's layout (fused q/k/v `in_proj`); diffusers'
own converter maps them onto a transformers `CLIPTextModel` built with only the blocks used (all but the last), so
its final output is A1111's "penultimate" layer. Prompts take the classic A1111 path with one difference (A1111's
`FrozenOpenCLIPEmbedderWithCustomWords`): every token after a chunk's first end token is id 0, not the end token.
Whether an unlabelled checkpoint predicts ε or v is A1111's test: one UNet call on constant inputs at t=999
(`unet_predicts_v`). `docs/model-families.md` (SD 2.x) has the details.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu

from modules.errors import InvalidInput, ModelLoadError
from modules.models.components import assign_weights, build_text_encoder, config_errors, load_unet, load_vae
from modules.models.engines.base import EngineContext
from modules.models.engines.sd1 import SD1Engine
from modules.models.model_config import ModelSpec, load_spec
from modules.models.probes import OPENCLIP_PREFIX, unet_with_in_channels
from modules.models.safe_load import LazyStateDict

EPSILON_CONFIG = "v2-inference.yaml"  # the family row's config; swapped for the v one when the UNet says so
V_CONFIG = "v2-inference-v.yaml"
PAD_ID = 0  # OpenCLIP pads with token 0 ("!"), CLIP with its end token
# The ViT-H/14 text tower without its last block (23 of 24 used), for yamls that carry no `text_config`.
VIT_H_TEXT = MappingProxyType({
    "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23, "num_attention_heads": 16,
    "vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "gelu", "projection_dim": 1024,
    "layer_norm_eps": 1e-5, "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1})
BLOCK_KEY = re.compile(re.escape(OPENCLIP_PREFIX) + r"transformer\.resblocks\.(\d+)\.")
OPENCLIP_LAYERS = MappingProxyType({"penultimate": 23, "last": 24})  # the yaml's `layer` → ViT-H blocks used


def openclip_unet_with_in_channels(channels: int) -> Callable:
    """A probe: OpenCLIP text tower keys and a UNet whose first convolution takes `channels` channels.

    >>> from modules.models.probes import UNET_IN
    >>> probe = openclip_unet_with_in_channels(4)
    >>> probe({UNET_IN: (320, 4, 3, 3), OPENCLIP_PREFIX + "ln_final.weight": (1024,)})
    True
    >>> probe({UNET_IN: (320, 9, 3, 3), OPENCLIP_PREFIX + "ln_final.weight": (1024,)})
    False
    """
    return unet_with_in_channels([OPENCLIP_PREFIX], channels)


def pad_after_end(ids: torch.Tensor, end_id: int, pad_id: int = PAD_ID) -> torch.Tensor:
    """Token ids [N, T] with every position after each row's first `end_id` set to `pad_id` (A1111's OpenCLIP rule).

    >>> pad_after_end(torch.tensor([[49406, 7, 49407, 49407, 49407]]), 49407).tolist()
    [[49406, 7, 49407, 0, 0]]
    """
    is_end = ids == end_id  # [N, T]
    first_end = torch.where(is_end.any(1), is_end.int().argmax(1), ids.shape[1])  # [N]
    after = torch.arange(ids.shape[1]) > first_end[:, None]  # [N, T]
    return ids.masked_fill(after, pad_id)


def unet_predicts_v(unet: UNet2DConditionModel, device, dtype: torch.dtype) -> bool:
    """A1111's test for an SD 2.x UNet: at t=999, on constant inputs, a v model's output lies far below its input."""
    context = torch.full((1, 2, unet.config.cross_attention_dim), 0.5, device=device, dtype=dtype)  # [1, 2, C]
    x = torch.full((1, 4, 8, 8), 0.5, device=device, dtype=dtype)  # [1, 4, 8, 8]
    with torch.no_grad():
        out = unet(x, torch.tensor([999], device=device), encoder_hidden_states=context, return_dict=False)[0]
    return (out.float() - x.float()).mean().item() < -1


def is_unused_block(key: str, used: int) -> bool:
    """A text-tower key of a block at or past `used` (the blocks after the one the UNet reads).

    >>> is_unused_block(OPENCLIP_PREFIX + "transformer.resblocks.23.ln_1.weight", 23)
    True
    >>> is_unused_block(OPENCLIP_PREFIX + "transformer.resblocks.22.ln_1.weight", 23)
    False
    """
    block = BLOCK_KEY.match(key)
    return block is not None and int(block.group(1)) >= used


def text_config(spec: ModelSpec) -> dict:
    """The yaml's own `text_config`, else ViT-H/14 read where the yaml's `layer` says (A1111's yamls say it).

    >>> cfg = {"model": {"params": {"cond_stage_config": {"params": {"layer": "last"}}}}}
    >>> text_config(ModelSpec(Path("x.yaml"), cfg, "epsilon", 0.1, 0.2, 10, 0.1, 512))["num_hidden_layers"]
    24
    """
    if spec.text_config is not None:
        return dict(spec.text_config)
    cond = (spec.original_config["model"]["params"].get("cond_stage_config") or {}).get("params") or {}
    layer = cond.get("layer", "penultimate")
    if layer not in OPENCLIP_LAYERS:
        raise ModelLoadError(str(spec.config_path), f"cond_stage_config.params.layer {layer!r} "
                                                    f"(valid: {', '.join(OPENCLIP_LAYERS)})")
    return {**VIT_H_TEXT, "num_hidden_layers": OPENCLIP_LAYERS[layer]}


def load_openclip_text(source, spec: ModelSpec, dtype: torch.dtype, device):
    """The text tower as a CLIPTextModel with `num_hidden_layers` blocks (the file's later blocks are left out)."""
    with config_errors(spec, "text encoder"):
        config = text_config(spec)
        model = build_text_encoder(config)
    used = config["num_hidden_layers"]
    weights = LazyStateDict(source, dtype, device, prefix=OPENCLIP_PREFIX,
                            exclude=lambda k: is_unused_block(k, used))
    converted = sfu.convert_open_clip_checkpoint(model, weights, prefix=OPENCLIP_PREFIX)
    flat = {k.removeprefix("text_model."): v for k, v in converted.items()
            if not k.startswith("text_projection")}  # the projection serves CLIP's pooled output, unused here
    return assign_weights(model, flat, source.path, "text encoder", spec)


class SD2Engine(SD1Engine):
    """SD 2.x (ε and v): OpenCLIP ViT-H/14 cross-attention (width 1024), no pooled output, latents ×0.18215.

    The prompt path, the one textual-inversion slot ("clip_l", 1024 wide here), the LoRA key map and the networks
    are SD 1.x's; the text tower, its padding and its layer choice are its own."""

    a1111_flags = MappingProxyType({"is_sd1": False, "is_sd2": True, "is_sdxl": False, "is_sd3": False,
                                    "is_ssd": False})

    def __init__(self, unet, vae, text_encoder, tokenizer, spec: ModelSpec, device_config, tower_blocks: int):
        super().__init__(unet, vae, text_encoder, tokenizer, spec, device_config)
        self.tower_blocks = tower_blocks  # blocks in the file; the model holds the first num_hidden_layers

    @classmethod
    def load(cls, source, spec: ModelSpec, context: EngineContext, baked_vae: bool) -> SD2Engine:
        config = context.device_config
        device = torch.device(config.device)
        unet = load_unet(source, spec, config.dtype, device, config.channels_last)
        configs_dir = Path(context.configs_dir)
        if spec.config_path == configs_dir / EPSILON_CONFIG and unet_predicts_v(unet, device, config.dtype):
            spec = load_spec(configs_dir / V_CONFIG)  # no yaml beside the file: the weights decide
        text_encoder = load_openclip_text(source, spec, config.dtype, device)
        vae = load_vae(source, spec, config.vae_dtype, device, True, config.channels_last) if baked_vae else None
        names = source.keys()
        blocks = {m.group(1) for k in names if (m := BLOCK_KEY.match(k))}
        return cls(unet, vae, text_encoder, context.tokenizer, spec, config, max(len(blocks), 1))

    @property
    def text_layers(self) -> int:
        """The tower's depth, counting the blocks left out: clip skip runs from 1 to this."""
        return max(self.tower_blocks, self.text_encoder.config.num_hidden_layers)

    @torch.no_grad()
    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        """CLIP token ids [B,77] → hidden states [B,77,C] float32.

        Clip skip N counts from the tower's last block as for SD 1.x (N = the N-th last block, then the final
        layer norm), but the tower is never read above the block the yaml names (A1111 always reads SD 2.x at its
        penultimate block): there 1 and 2 both give the penultimate block, 3 the one before.
        """
        if not 1 <= clip_skip <= self.text_layers:
            raise InvalidInput("clip_skip", f"{clip_skip} is out of range", f"1 to {self.text_layers}")
        ids = pad_after_end(input_ids, self.tokenizer.eos_token_id).to(self.device)  # [B, 77]
        used = self.text_encoder.config.num_hidden_layers
        block = min(self.text_layers + 1 - clip_skip, used)  # output of this block (1-based)
        if block == used:
            return self.text_encoder(input_ids=ids).last_hidden_state.float()  # [B, 77, C], ln_final applied
        hidden = self.text_encoder(input_ids=ids, output_hidden_states=True).hidden_states[block]  # [B, 77, C]
        return self.text_encoder.final_layer_norm(hidden).float()
