"""Tiny AutoEncoder (TAESD) decoder: latents → RGB in a few ms, for live previews and the fast-decode option.

Our own implementation of the published TAESD architecture, laid out as one `nn.Sequential` so the index-keyed
state dicts of `taesd_decoder.pth` (SD1/SD2) and `taesdxl_decoder.pth` (SDXL) load as they are. Input: the
model's scaled latents (what the sampler works on); output: RGB in [0, 1]. See docs/previews.md.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from modules.errors import ModelLoadError
from modules.models.safe_load import open_checkpoint

SD_DECODER = "taesd_decoder.pth"
SDXL_DECODER = "taesdxl_decoder.pth"
BUILTIN_DECODER = "easel-builtin-taesd.safetensors"  # modules/training/train_taesd.py writes it
WIDTH = 64  # feature channels of every stage
CLAMP = 3.0  # latents are squashed to (-3, 3) with a scaled tanh before the first conv


class SoftClamp(nn.Module):
    """3·tanh(x/3): keeps outlier latents (common mid-sampling) from blowing up the small network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / CLAMP) * CLAMP


def conv3(n_in: int, n_out: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, bias=bias)


class Block(nn.Module):
    """Residual block: three 3×3 convs (ReLU between) plus the input, then ReLU. Keys `conv.{0,2,4}`, `skip`."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.conv = nn.Sequential(conv3(n_in, n_out), nn.ReLU(), conv3(n_out, n_out), nn.ReLU(), conv3(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + self.skip(x))


def build_decoder(latent_channels: int = 4, upsamples: int = 3, width: int = WIDTH) -> nn.Sequential:
    """The decoder; `upsamples` 3 for SD's f = 8 latents (indices 0-19 as in the published files), 2 for f = 4.

    >>> [type(m).__name__ for m in build_decoder()][:7]
    ['SoftClamp', 'Conv2d', 'ReLU', 'Block', 'Block', 'Block', 'Upsample']
    >>> len(build_decoder()), len(build_decoder(upsamples=2))
    (20, 15)
    """
    layers: list[nn.Module] = [SoftClamp(), conv3(latent_channels, width), nn.ReLU()]
    for _ in range(upsamples):
        layers += [Block(width, width) for _ in range(3)]
        layers += [nn.Upsample(scale_factor=2), conv3(width, width, bias=False)]
    layers += [Block(width, width), conv3(width, 3)]
    return nn.Sequential(*layers)


def decoder_shape(state: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """(latent_channels, upsamples, width) read from a state dict's first conv and its bias-free upsample convs.

    >>> decoder_shape(build_decoder(16).state_dict())
    (16, 3, 64)
    """
    first = state.get("1.weight")
    if first is None or first.ndim != 4:
        raise ValueError("no first convolution '1.weight'")
    width, latent_channels = int(first.shape[0]), int(first.shape[1])
    upsamples = sum(1 for k in state if k.endswith(".weight") and k.count(".") == 1
                    and f"{k.split('.')[0]}.bias" not in state and k != "1.weight")
    return latent_channels, upsamples, width


def load_decoder(path: Path | str) -> nn.Sequential:
    """A decoder from a `.pth` (restricted unpickler) or `.safetensors`; a foreign layout raises naming the file."""
    source = open_checkpoint(path)
    try:
        state = {k.removeprefix("decoder."): source.read(k, torch.float32) for k in source.keys()}
    finally:
        source.close()
    try:
        decoder = build_decoder(*decoder_shape(state))
        decoder.load_state_dict(state)
    except (ValueError, RuntimeError) as e:
        raise ModelLoadError(str(path), f"not a TAESD decoder ({str(e).splitlines()[0]})") from None
    return decoder.eval().requires_grad_(False)


@torch.no_grad()
def decode(decoder: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents [B, C, h, w] → RGB [B, 3, h·f, w·f] in [0, 1] (float32, on the latents' device)."""
    weight = next(decoder.parameters())
    x = latents.to(weight.device, weight.dtype)  # [B, C, h, w]
    return decoder(x).float().clamp(0, 1).to(latents.device)  # [B, 3, H, W]


def decoder_filename(family: str) -> str:
    """The file A1111 uses for a model family ("sdxl" → taesdxl_decoder.pth, anything SD1/SD2 → taesd_decoder.pth).

    >>> decoder_filename("sdxl"), decoder_filename("sd1")
    ('taesdxl_decoder.pth', 'taesd_decoder.pth')
    """
    return SDXL_DECODER if family.startswith("sdxl") else SD_DECODER


def decoder_path(models_dir: Path, family: str, checkpoint: str = "") -> Path:
    """Where A1111 keeps the file: models/VAE-taesd/<file> (the path may not exist; callers check). The built-in
    models (checkpoint file names `easel-builtin*`) have their own latent space and their own file."""
    name = BUILTIN_DECODER if Path(checkpoint).name.startswith("easel-builtin") else decoder_filename(family)
    return Path(models_dir) / "VAE-taesd" / name


def decode_infotext(method: str) -> dict[str, str]:
    """A1111 writes "VAE Decoder: TAESD" only when the decode method is not "Full" (readers assume Full).

    >>> decode_infotext("Full"), decode_infotext("TAESD")
    ({}, {'VAE Decoder': 'TAESD'})
    """
    return {} if method == "Full" else {"VAE Decoder": method}


def fast_decode(decoder: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """The fast-decode option: like a VAE decode, [B, C, h, w] → [B, 3, H, W] in [-1, 1]."""
    return decode(decoder, latents) * 2 - 1
