"""Load a checkpoint: detect its family from key names and shapes, read its config, let the family's engine build
the networks (`modules/models/engines/`), optionally with a separate VAE file.

The builders of the individual networks live in `components.py`; the family table in `families.py`.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from transformers import CLIPTokenizer

from modules.models.components import load_vae, prepare_for_inference
from modules.errors import ModelLoadError
from modules.models.devices import DeviceConfig
from modules.models.discovery import CheckpointInfo, VaeInfo
from modules.models.engines.base import Engine, EngineContext
from modules.models.families import FAMILIES, Family, detect_family
from modules.models.hashing import short_hash
from modules.models.ldm_layout import VAE_PREFIX
from modules.models.loaded import LoadedModel
from modules.models.model_config import ModelSpec, load_spec
from modules.models.safe_load import TensorSource, open_checkpoint


def spec_for(info: CheckpointInfo, family: Family, configs_dir: Path) -> ModelSpec:
    """The yaml beside the checkpoint wins; otherwise the family's shipped config."""
    if info.config_path is not None:
        return load_spec(info.config_path)
    if family.default_config is None:
        raise ModelLoadError(str(info.path), f"{family.label} checkpoints have no shipped model config; put a "
                                             "same-name .yaml beside the checkpoint")
    return load_spec(Path(configs_dir) / family.default_config)


def engine_of(family: Family, path: Path) -> type[Engine]:
    """The family's engine class; a family without one (recognised, not runnable) cannot be loaded."""
    engine = family.engine
    if engine is None:
        raise ModelLoadError(str(path), f"{family.label} checkpoints are not supported yet")
    return engine


def load_vae_file(vae: VaeInfo, spec: ModelSpec, device_config: DeviceConfig,
                  disable_safe_unpickle: bool = False) -> AutoencoderKL:
    """A separate VAE file (keys without `first_stage_model.`), shaped by the checkpoint's config."""
    with closing(open_checkpoint(vae.path, disable_safe_unpickle)) as source:
        names = source.keys()
        baked = any(k.startswith(VAE_PREFIX) for k in names)
        vae_model = load_vae(source, spec, device_config.vae_dtype, torch.device(device_config.device), baked,
                             device_config.channels_last)
    prepare_for_inference(None, vae_model, device_config)
    return vae_model


def check_main_model(family: Family, path: Path) -> None:
    """A family that only finishes another model's image (the SDXL refiner) cannot be the main model."""
    if engine_of(family, path).refiner_only:
        raise ModelLoadError(str(path), f"this is an {family.label} checkpoint: it finishes another model's image "
                                        "and cannot be the main model; choose it as the Refiner "
                                        "(refiner_checkpoint) and an SDXL base model as the checkpoint")


def load_model(info: CheckpointInfo, device_config: DeviceConfig, configs_dir: Path, tokenizer: CLIPTokenizer,
               vae: VaeInfo | None = None, vae_hash: str | None = None, disable_safe_unpickle: bool = False,
               families: Sequence[Family] = FAMILIES, as_refiner: bool = False,
               tensors: TensorSource | None = None) -> LoadedModel:
    """Everything of one checkpoint, with the baked-in VAE or the given VAE file; `families`: the family table.
    A family that only refines another model's image (the SDXL refiner) loads only `as_refiner`. `tensors`: the
    weights, when they are not the file's (a merge held in memory); `info` still names the file's config."""
    with closing(tensors or open_checkpoint(info.path, disable_safe_unpickle)) as source:
        names = source.keys()
        family = detect_family({k: source.shape(k) for k in names}, str(info.path), families)
        if not as_refiner:
            check_main_model(family, info.path)
        spec = spec_for(info, family, configs_dir)
        engine = engine_of(family, info.path).load(source, spec, EngineContext(device_config, configs_dir, tokenizer),
                                    baked_vae=vae is None)
    prepare_for_inference(engine.unet, engine.vae, device_config)
    if vae is not None:
        engine.vae = load_vae_file(vae, spec, device_config, disable_safe_unpickle)
    return LoadedModel(checkpoint=info, family=family.name, engine=engine, vae_name=vae.name if vae else None,
                       vae_hash=short_hash(vae_hash) or None, vae_path=vae.path if vae else None)


def reload_baked_vae(model: LoadedModel, device_config: DeviceConfig,
                     disable_safe_unpickle: bool = False) -> AutoencoderKL:
    """The checkpoint's own VAE again, after a VAE file had replaced it."""
    with closing(open_checkpoint(model.checkpoint.path, disable_safe_unpickle)) as source:
        vae_model = load_vae(source, model.spec, device_config.vae_dtype, torch.device(device_config.device), True,
                             device_config.channels_last)
    prepare_for_inference(None, vae_model, device_config)
    return vae_model
