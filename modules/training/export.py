"""Write the trained networks as one original-layout (LDM single-file) safetensors checkpoint plus its yaml, so the
built-in model loads through exactly the code path of a Stable Diffusion 1.5 file.

Weights are stored as float16 (the loader casts to the device's dtype), which keeps the file well under 30 MB; the
compact training token table is expanded to CLIP's 49408 rows (`vocab.expand_embedding`).
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

from modules.models.ldm_layout import TEXT_PREFIX, text_encoder_to_ldm, unet_to_ldm, vae_to_ldm
from modules.models.model_config import alphas_cumprod
from modules.training.vocab import CompactVocab

BUILTIN_NAME = "easel-builtin"
INPAINTING_SUFFIX = "-inpainting"  # as "sd-v1-5-inpainting": the name A1111 users look for


def full_text_encoder(compact: CLIPTextModel, vocab: CompactVocab, config: dict) -> CLIPTextModel:
    """The compact-table text encoder as a CLIP-vocabulary one (same weights, token table expanded)."""
    text_config = config["model"]["params"]["cond_stage_config"]["params"]["text_config"]
    full = CLIPTextModel(CLIPTextConfig(**text_config))
    state = dict(compact.state_dict())
    key = "text_model.embeddings.token_embedding.weight"
    key = key if key in state else key.removeprefix("text_model.")
    state[key] = vocab.expand_embedding(state[key])  # [49408, C]
    full.load_state_dict(state, strict=True)
    return full.eval()


def ddpm_buffers(config: dict) -> dict[str, torch.Tensor]:
    """The schedule buffers LDM saves beside the weights (real SD1 files carry them)."""
    params = config["model"]["params"]
    abar = alphas_cumprod(params["linear_start"], params["linear_end"], params["timesteps"])  # [T]
    prev = torch.cat([torch.ones(1), abar[:-1]])
    return {"betas": 1 - abar / prev, "alphas_cumprod": abar, "alphas_cumprod_prev": prev,
            "sqrt_alphas_cumprod": abar.sqrt(), "sqrt_one_minus_alphas_cumprod": (1 - abar).sqrt()}


def ldm_state(unet: UNet2DConditionModel, vae: AutoencoderKL, text: CLIPTextModel, config: dict,
              dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """All three networks in the single-file key layout; float weights in `dtype`, schedule buffers in float32."""
    state = {k: v.to(dtype) for k, v in unet_to_ldm(unet.state_dict(), unet.config).items()}
    state.update({k: v.to(dtype) for k, v in vae_to_ldm(vae.state_dict(), vae.config).items()})
    state.update({k: v.to(dtype) for k, v in text_encoder_to_ldm(text.state_dict()).items()})
    positions = text.config.max_position_embeddings
    state[TEXT_PREFIX + "embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64)[None]  # [1, 77]
    state.update(ddpm_buffers(config))
    return {k: v.detach().contiguous() for k, v in state.items()}


def write_checkpoint(folder: Path, state: dict[str, torch.Tensor], config: dict, name: str = BUILTIN_NAME,
                     metadata: dict[str, str] | None = None) -> Path:
    """`<folder>/<name>.safetensors` and its `.yaml`; returns the checkpoint path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=metadata or {})
    tmp.chmod(0o644)  # safetensors writes 0600; the shipped file is for everyone
    tmp.replace(path)
    path.with_suffix(".yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path
