"""Write a full-size SD1.5- or SDXL-shaped checkpoint with random fp16 weights (original single-file layout):
SD 1.5 ~2.1 GB, SDXL base ~6.9 GB (3.47 B parameters), SDXL refiner ~6.1 GB (3.04 B).

Used to test the real-size load path for shapes and memory without downloading anything:

    .venv/bin/python tools/make_full_size_checkpoint.py DIR [--shape sd15|sdxl|sdxl-refiner] [--name NAME] [--seed N]

Shapes come from diffusers / transformers models built on the meta device from the shipped configs, renamed with
`modules.models.ldm_layout`; each tensor is generated in fp16 right before it is written, so memory stays at one
tensor (the largest is SDXL bigG's 49408x1280 token embedding, 126 MB).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.models.components import unet_config  # noqa: E402
from modules.models.engines.sdxl import BIG_G_TEXT  # noqa: E402
from modules.models.ldm_layout import (REFINER_CLIP_G_PREFIX, SDXL_CLIP_G_PREFIX, SDXL_CLIP_L_PREFIX,  # noqa: E402
                                       TEXT_PREFIX, openclip_text_to_ldm, text_encoder_to_ldm, unet_to_ldm,
                                       vae_to_ldm)
from modules.models.model_config import load_spec  # noqa: E402
from modules.models.safetensors_io import tensor_shapes, write_safetensors  # noqa: E402
from modules.paths import INSTALL_DIR  # noqa: E402

DTYPE = torch.float16
STD = 0.02


def sd15_meta_state_dict(configs_dir: Path = INSTALL_DIR / "configs") -> dict[str, torch.Tensor]:
    """The SD1.5 checkpoint's keys with meta tensors of the right shapes (fp16), position_ids included."""
    config = yaml.safe_load((configs_dir / "v1-inference.yaml").read_text())
    text_config = json.loads((configs_dir / "clip-vit-large-patch14" / "config.json").read_text())
    with init_empty_weights(include_buffers=True):
        unet = UNet2DConditionModel(**sfu.create_unet_diffusers_config_from_ldm(config, {}))
        vae = AutoencoderKL(**sfu.create_vae_diffusers_config_from_ldm(config, {}))
        text = CLIPTextModel(CLIPTextConfig(**text_config))
    state = unet_to_ldm(unet.state_dict(), unet.config)
    state.update(vae_to_ldm(vae.state_dict(), vae.config))
    state.update(text_encoder_to_ldm(text.state_dict()))
    state = {k: v.to(DTYPE) for k, v in state.items()}
    state[TEXT_PREFIX + "embeddings.position_ids"] = torch.empty(1, 77, dtype=torch.int64, device="meta")
    return state


def sdxl_meta_state_dict(refiner: bool = False, configs_dir: Path = INSTALL_DIR / "configs") -> dict[str, torch.Tensor]:
    """The SDXL base (or refiner) checkpoint's keys with meta tensors of the right shapes (fp16), in sgm's layout."""
    spec = load_spec(configs_dir / ("sd_xl_refiner.yaml" if refiner else "sd_xl_base.yaml"))
    text_config = json.loads((configs_dir / "clip-vit-large-patch14" / "config.json").read_text())
    with init_empty_weights(include_buffers=True):
        unet = UNet2DConditionModel(**unet_config(spec, added_time_ids=True))
        vae = AutoencoderKL(**sfu.create_vae_diffusers_config_from_ldm(spec.original_config, {}))
        clip_l = None if refiner else CLIPTextModel(CLIPTextConfig(**text_config))
        clip_g = CLIPTextModelWithProjection(CLIPTextConfig(**BIG_G_TEXT))
    state = unet_to_ldm(unet.state_dict(), unet.config)
    state.update(vae_to_ldm(vae.state_dict(), vae.config))
    if clip_l is not None:
        state.update(text_encoder_to_ldm(clip_l.state_dict(), SDXL_CLIP_L_PREFIX))
    state.update(openclip_text_to_ldm(clip_g.state_dict(), REFINER_CLIP_G_PREFIX if refiner else SDXL_CLIP_G_PREFIX))
    state = {k: v.to(DTYPE) for k, v in state.items()}
    if clip_l is not None:
        state[SDXL_CLIP_L_PREFIX + "text_model.embeddings.position_ids"] = torch.empty(1, 77, dtype=torch.int64,
                                                                                        device="meta")
    return state


SHAPES: dict[str, Callable[[], dict[str, torch.Tensor]]] = {"sd15": sd15_meta_state_dict, "sdxl": sdxl_meta_state_dict,
          "sdxl-refiner": lambda: sdxl_meta_state_dict(refiner=True)}


def make_full_size_checkpoint(directory: Path | str, name: str = "sd15-random", seed: int = 0,
                              shape: str = "sd15") -> Path:
    """Write `<directory>/<name>.safetensors` of the `shape` family (sd15, sdxl, sdxl-refiner); returns its path."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shapes = tensor_shapes(sorted(SHAPES[shape]().items()))
    generator = torch.Generator().manual_seed(seed)

    def make(key: str) -> torch.Tensor:
        shape, dtype = shapes[key]
        if dtype == torch.int64:
            return torch.arange(shape[-1], dtype=torch.int64).reshape(shape)  # position_ids [1, 77]
        return (torch.randn(shape, generator=generator, dtype=dtype) * STD).to(dtype)

    path = directory / f"{name}.safetensors"
    write_safetensors(path, shapes, make, metadata={"format": "pt", "easel": f"random {shape}-shaped test weights"})
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="folder to write into (e.g. models/Stable-diffusion)")
    parser.add_argument("--shape", default="sd15", choices=sorted(SHAPES), help="which family's shapes")
    parser.add_argument("--name", help="file name without extension (default: <shape>-random)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = make_full_size_checkpoint(args.dir, args.name or f"{args.shape}-random", args.seed, args.shape)
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
