"""Write a full-size SD1.5-shaped checkpoint with random fp16 weights (~2.1 GB, original single-file layout).

Used to test the real-size load path for shapes and memory without downloading anything:

    .venv/bin/python tools/make_full_size_checkpoint.py DIR [--name NAME] [--seed N]

Shapes come from diffusers / transformers models built on the meta device from the shipped configs, renamed with
`modules.models.ldm_layout`; each tensor is generated in fp16 right before it is written, so memory stays at one
tensor (the largest is the 49408x768 token embedding, 76 MB).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import yaml
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.models.ldm_layout import TEXT_PREFIX, text_encoder_to_ldm, unet_to_ldm, vae_to_ldm  # noqa: E402
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


def make_full_size_checkpoint(directory: Path | str, name: str = "sd15-random", seed: int = 0) -> Path:
    """Write `<directory>/<name>.safetensors`; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shapes = tensor_shapes(sorted(sd15_meta_state_dict().items()))
    generator = torch.Generator().manual_seed(seed)

    def make(key: str) -> torch.Tensor:
        shape, dtype = shapes[key]
        if dtype == torch.int64:
            return torch.arange(shape[-1], dtype=torch.int64).reshape(shape)  # position_ids [1, 77]
        return (torch.randn(shape, generator=generator, dtype=dtype) * STD).to(dtype)

    path = directory / f"{name}.safetensors"
    write_safetensors(path, shapes, make, metadata={"format": "pt", "easel": "random SD1.5-shaped test weights"})
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="folder to write into (e.g. models/Stable-diffusion)")
    parser.add_argument("--name", default="sd15-random", help="file name without extension")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = make_full_size_checkpoint(args.dir, args.name, args.seed)
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
