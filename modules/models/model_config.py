"""What an LDM yaml says about a model, beyond the architecture diffusers' config builders read from it.

Easel extensions to the original yaml (all optional), under `model.params`:
`parameterization: "v"` (v-prediction), `easel_native_size: 64` (native resolution), and
`cond_stage_config.params.text_config: {CLIPTextConfig fields}` (a text encoder other than CLIP ViT-L/14).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from modules.errors import ModelLoadError

if TYPE_CHECKING:  # only `alphas_cumprod` computes; native sizes are read before torch loads (docs/architecture.md §4)
    import torch

DEFAULT_SCALE_FACTOR = 0.18215
DEFAULT_NATIVE_SIZE = 512
CLIP_L_CONFIG = Path("clip-vit-large-patch14") / "config.json"


@dataclass(frozen=True)
class ModelSpec:
    """The parts of a model config the loader and the sampler need, read once from the yaml."""

    config_path: Path
    original_config: dict = field(repr=False)
    prediction_type: str  # "epsilon" | "v_prediction"
    linear_start: float
    linear_end: float
    timesteps: int
    scale_factor: float
    native_size: int
    text_config: dict | None = field(repr=False, default=None)


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(str(path), "config file not found") from None
    except (OSError, yaml.YAMLError) as e:
        raise ModelLoadError(str(path), f"cannot read the model config ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("model", {}).get("params"), dict):
        raise ModelLoadError(str(path), "not an LDM model config (no model.params)")
    return data


def spec_from_config(config: Mapping, config_path: Path) -> ModelSpec:
    """Pure: the ModelSpec of a parsed yaml.

    >>> cfg = {"model": {"params": {"parameterization": "v", "timesteps": 10, "unet_config": {},
    ...        "first_stage_config": {}}}}
    >>> s = spec_from_config(cfg, Path("x.yaml"))
    >>> (s.prediction_type, s.timesteps, s.scale_factor, s.native_size)
    ('v_prediction', 10, 0.18215, 512)
    """
    params = config["model"]["params"]
    if "unet_config" not in params and "network_config" not in params:  # LDM's name, then sgm's (SDXL)
        raise ModelLoadError(str(config_path), "model config has no model.params.unet_config")
    if "first_stage_config" not in params:
        raise ModelLoadError(str(config_path), "model config has no model.params.first_stage_config")
    parameterization = params.get("parameterization", sgm_parameterization(params))
    if parameterization not in ("eps", "v"):
        raise ModelLoadError(str(config_path), f"parameterization {parameterization!r} (valid: eps, v)")
    cond_params = (params.get("cond_stage_config") or {}).get("params") or {}
    return ModelSpec(
        config_path=Path(config_path),
        original_config=dict(config),
        prediction_type="v_prediction" if parameterization == "v" else "epsilon",
        linear_start=float(params.get("linear_start", 0.00085)),
        linear_end=float(params.get("linear_end", 0.012)),
        timesteps=int(params.get("timesteps", 1000)),
        scale_factor=float(params.get("scale_factor", DEFAULT_SCALE_FACTOR)),
        native_size=int(params.get("easel_native_size", DEFAULT_NATIVE_SIZE)),
        text_config=dict(cond_params["text_config"]) if "text_config" in cond_params else None,
    )


def sgm_parameterization(params: Mapping) -> str:
    """sgm yamls (SDXL) say ε or v through the denoiser's scaling class rather than `parameterization`.

    >>> sgm_parameterization({"denoiser_config": {"params": {"scaling_config": {"target": "x.VScaling"}}}})
    'v'
    >>> sgm_parameterization({})
    'eps'
    """
    scaling = (((params.get("denoiser_config") or {}).get("params") or {}).get("scaling_config") or {})
    return "v" if str(scaling.get("target", "")).endswith("VScaling") else "eps"


def load_spec(config_path: Path) -> ModelSpec:
    return spec_from_config(read_yaml(config_path), config_path)


def alphas_cumprod(linear_start: float, linear_end: float, timesteps: int) -> torch.Tensor:
    """LDM's "linear" (scaled-linear) schedule: betas = linspace(√start, √end, T)², ᾱ_t = Π(1 - β), float32 [T].

    >>> a = alphas_cumprod(0.00085, 0.012, 1000)
    >>> a.shape, round(float(a[0]), 5), round(float(a[-1]), 5)
    (torch.Size([1000]), 0.99915, 0.00466)
    """
    import torch

    betas = torch.linspace(linear_start ** 0.5, linear_end ** 0.5, timesteps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(torch.float32)  # [T]


def text_config_dict(spec: ModelSpec, configs_dir: Path) -> dict:
    """The CLIPTextConfig fields: the yaml's own `text_config`, else CLIP ViT-L/14's shipped json."""
    if spec.text_config is not None:
        return dict(spec.text_config)
    path = Path(configs_dir) / CLIP_L_CONFIG
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(str(path), f"cannot read the text encoder config ({e})") from None
