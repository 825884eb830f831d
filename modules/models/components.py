"""Build the networks of an original single-file checkpoint (UNet, VAE, CLIP text encoder) without a hub.

Architectures come from the LDM yaml through diffusers' own config builders and key converters
(`diffusers.loaders.single_file_utils`); the text encoder config from `configs/`. Models are created with empty
(meta) weights and the converted tensors are assigned in place (`load_state_dict(assign=True)`), each tensor read
from disk and converted to its final dtype as the converter asks for it, so peak memory stays near the model's
final size instead of file + fp32 copy + model. Engines (`modules/models/engines/`) pick which of these a family
needs and where its keys live.
"""
from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from modules.errors import ModelLoadError
from modules.models.channels_last import use_channels_last_kernels
from modules.models.devices import DeviceConfig
from modules.models.ldm_layout import CLIP_L_PREFIX, UNET_PREFIX, VAE_PREFIX
from modules.models.model_config import ModelSpec, text_config_dict
from modules.models.safe_load import LazyStateDict, TensorSource

OLD_CLIP_PARTS = ("embeddings.", "encoder.", "final_layer_norm.")
# diffusers' config builders look at the checkpoint only to guess `sample_size`, which Easel never uses; an empty
# mapping gives its SD1 default without reading (or even listing) any tensor.
NO_SHAPE_HINTS: dict = {}

NetworkT = TypeVar("NetworkT", bound=torch.nn.Module)


def assign_weights(model: NetworkT, state_dict: Mapping[str, torch.Tensor], path: Path, what: str,
                   spec: ModelSpec) -> NetworkT:
    """Put converted tensors into an empty model; a mismatch is the user's file not fitting the config."""
    try:
        model.load_state_dict(dict(state_dict), strict=True, assign=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        detail = detail if len(detail) < 600 else detail[:600] + " …"
        raise ModelLoadError(str(path), f"{what} weights do not fit the model config {spec.config_path.name} "
                                        f"(a same-name .yaml beside the checkpoint sets it): {detail}") from None
    still_empty = [n for n, p in [*model.named_parameters(), *model.named_buffers()] if p.is_meta]
    if still_empty:
        raise ModelLoadError(str(path), f"{what} weights missing: {', '.join(still_empty[:5])}")
    return model.eval().requires_grad_(False)


@contextmanager
def config_errors(spec: ModelSpec, what: str):
    """A yaml whose fields diffusers cannot build from (or a file its converter cannot walk) is a load error."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise ModelLoadError(str(spec.config_path), f"cannot build the {what} from this model config "
                                                    f"({type(e).__name__}: {e})") from None


def unet_config(spec: ModelSpec, added_time_ids: bool = False) -> dict:
    """diffusers' UNet config of the yaml. `added_time_ids` (SDXL): the `sequential` class input is the pooled
    text embedding plus 256-wide time-id embeddings; diffusers guesses that only for cross-attention widths 2048
    and 1280, so a family that knows says it (the same networks at any width, the tiny test models included)."""
    config = sfu.create_unet_diffusers_config_from_ldm(spec.original_config, NO_SHAPE_HINTS)
    if added_time_ids:
        config.update(addition_embed_type="text_time", addition_time_embed_dim=256, class_embed_type=None)
    return config


def load_unet(source: TensorSource, spec: ModelSpec, dtype: torch.dtype, device,
              channels_last: bool = False, added_time_ids: bool = False) -> UNet2DConditionModel:
    with config_errors(spec, "UNet"):
        config = unet_config(spec, added_time_ids)
        with init_empty_weights(include_buffers=False):
            unet = UNet2DConditionModel(**config)
        weights = LazyStateDict(source, dtype, device, prefix=UNET_PREFIX, channels_last=channels_last)
        converted = sfu.convert_ldm_unet_checkpoint(weights, config)
    return assign_weights(unet, converted, source.path, "UNet", spec)


def vae_config(spec: ModelSpec) -> dict:
    return sfu.create_vae_diffusers_config_from_ldm(spec.original_config, NO_SHAPE_HINTS,
                                                    scaling_factor=spec.scale_factor)


def _is_training_only_vae_key(key: str) -> bool:
    """Loss network and EMA bookkeeping in VAE files (A1111 drops them too)."""
    bare = key.removeprefix(VAE_PREFIX)
    return bare.startswith(("loss.", "model_ema."))


def load_vae(source: TensorSource, spec: ModelSpec, dtype: torch.dtype, device, baked: bool,
             channels_last: bool = False) -> AutoencoderKL:
    """The checkpoint's own VAE (`baked`, keys under first_stage_model.) or a separate VAE file (bare keys)."""
    with config_errors(spec, "VAE"):
        config = vae_config(spec)
        with init_empty_weights(include_buffers=False):
            vae = AutoencoderKL(**config)
    weights = LazyStateDict(source, dtype, device, prefix=VAE_PREFIX if baked else "",
                            exclude=_is_training_only_vae_key, channels_last=channels_last)
    if not any(k.startswith(("encoder.", VAE_PREFIX + "encoder.")) for k in weights):
        raise ModelLoadError(str(source.path), "not a VAE (no encoder/decoder weights)")
    if not baked and any(k.startswith("encoder.down_blocks.") for k in weights):
        converted = weights  # already in diffusers' layout
    else:
        with config_errors(spec, "VAE"):
            converted = sfu.convert_ldm_vae_checkpoint(weights, config)
    return assign_weights(vae, converted, source.path, "VAE", spec)


def clip_key_fix(key: str, prefix: str = CLIP_L_PREFIX) -> str:
    """Old CLIP layouts lack `text_model.`; A1111 inserts it, and so do we.

    >>> clip_key_fix("cond_stage_model.transformer.encoder.layers.0.mlp.fc1.weight")
    'cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight'
    >>> clip_key_fix("cond_stage_model.transformer.text_model.final_layer_norm.bias")
    'cond_stage_model.transformer.text_model.final_layer_norm.bias'
    """
    rest = key.removeprefix(prefix)
    if rest != key and rest.startswith(OLD_CLIP_PARTS):
        return prefix + "text_model." + rest
    return key


def build_text_encoder(config: dict) -> CLIPTextModel:
    with init_empty_weights(include_buffers=False):
        return CLIPTextModel(CLIPTextConfig(**config))


def load_text_encoder(source: TensorSource, spec: ModelSpec, configs_dir: Path, dtype: torch.dtype,
                      device, prefix: str = CLIP_L_PREFIX, config: dict | None = None) -> CLIPTextModel:
    """A CLIP text encoder in transformers' layout under `prefix` (SD 1.x's by default), shaped by `config`
    (default: the yaml's `text_config`, else CLIP ViT-L/14's shipped json)."""
    with config_errors(spec, "text encoder"):
        model = build_text_encoder(config if config is not None else text_config_dict(spec, configs_dir))
    weights = LazyStateDict(source, dtype, device, prefix=prefix, rename=lambda k: clip_key_fix(k, prefix),
                            exclude=lambda k: k.endswith("position_ids"))  # a buffer transformers rebuilds itself
    # Only the prefix goes (diffusers' convert_ldm_clip_checkpoint does that too, but it matched SD 1.x's prefix
    # twice and so read every text-encoder tensor twice: 0.23 GB of extra reads on a real file). CLIPTextModel is
    # flat in transformers 5, hence `text_model.` goes as well.
    flat = {k.removeprefix(prefix).removeprefix("text_model."): weights[k] for k in weights}
    return assign_weights(model, flat, source.path, "text encoder", spec)


def load_openclip_with_projection(source: TensorSource, spec: ModelSpec, prefix: str, config: dict,
                                  dtype: torch.dtype, device) -> CLIPTextModelWithProjection:
    """An OpenCLIP text tower (OpenCLIP's layout under `prefix`) with every block and its text projection, as
    transformers' CLIPTextModelWithProjection: the hidden states of each block and the projected pooled output."""
    with config_errors(spec, "text encoder"):
        with init_empty_weights(include_buffers=False):
            model = CLIPTextModelWithProjection(CLIPTextConfig(**config))
    weights = LazyStateDict(source, dtype, device, prefix=prefix)
    converted = sfu.convert_open_clip_checkpoint(model, weights, prefix=prefix)
    if not hasattr(model, "text_model"):  # transformers flattened the wrapper: keys without `text_model.`
        converted = {k.removeprefix("text_model."): v for k, v in converted.items()}
    return assign_weights(model, converted, source.path, "text encoder", spec)


def prepare_for_inference(unet: UNet2DConditionModel | None, vae: AutoencoderKL | None,
                          device_config: DeviceConfig) -> None:
    """Attention: SDPA is diffusers' default (AttnProcessor2_0); xformers or, for a bf16 UNet and VAE on the CPU,
    Easel's blocked and oneDNN's fused kernels (modules/models/onednn_attention.py) when the device config chose it.
    Memory format: channels-last convolution weights when the device config asks (on the CPU oneDNN's kernels run
    NHWC: UNet step 7.6 s vs 8.6 s, VAE decode 7.8 s vs 10.2 s at 512×512 bf16, one thread). The loaders read
    them in that layout already; this pass only catches a tensor that was not (`.to` returns NHWC tensors as they
    are)."""
    if device_config.attention == "onednn":
        from modules.models.onednn_attention import OneDnnAttnProcessor

        processor = OneDnnAttnProcessor()  # one instance: one cache of compiled shapes per model
        for model in (unet, vae):
            if model is not None and model.dtype == torch.bfloat16:
                model.set_attn_processor(processor)
    for model in (unet, vae):
        if model is None:
            continue
        if device_config.attention == "xformers":
            model.enable_xformers_memory_efficient_attention()
        if device_config.channels_last:
            model.to(memory_format=torch.channels_last)  # only 4-D (conv) weights change; one tensor at a time
        if device_config.channels_last and device_config.device == "cpu":
            use_channels_last_kernels(model)  # modules/models/channels_last.py: no slow 1×1 convs, no NCHW copies
