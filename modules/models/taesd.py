"""Tiny AutoEncoder (TAESD): latents → RGB in a few ms (live previews, fast decode) and RGB → latents (fast encode).

Our own implementation of the published TAESD architecture, laid out as one `nn.Sequential` each so the
index-keyed state dicts of `taesd_decoder.pth` / `taesd_encoder.pth` (SD1/SD2) and `taesdxl_*.pth` (SDXL) load as
they are. Latents are the model's scaled latents (what the sampler works on); RGB is in [0, 1]. See
docs/previews.md.
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
BUILTIN_ENCODER = "easel-builtin-taesd-encoder.safetensors"  # not shipped: fast encode needs the user's file
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


def build_encoder(latent_channels: int = 4, downsamples: int = 3, width: int = WIDTH) -> nn.Sequential:
    """The encoder, mirror of the decoder: indices 0-14 as in the published `taesd_encoder.pth` for 3 stages.

    >>> [type(m).__name__ for m in build_encoder()][:3], len(build_encoder())
    (['Conv2d', 'Block', 'Conv2d'], 15)
    """
    layers: list[nn.Module] = [conv3(3, width), Block(width, width)]
    for _ in range(downsamples):
        layers += [nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False)]
        layers += [Block(width, width) for _ in range(3)]
    layers += [conv3(width, latent_channels)]
    return nn.Sequential(*layers)


def encoder_shape(state: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """(latent_channels, downsamples, width) from an encoder state dict: the first conv takes RGB, the bias-free
    top-level convs are the strided ones, the last top-level conv gives the latent channels.

    >>> encoder_shape(build_encoder().state_dict())
    (4, 3, 64)
    """
    first = state.get("0.weight")
    if first is None or first.ndim != 4 or first.shape[1] != 3:
        raise ValueError("no RGB input convolution '0.weight'")
    top = sorted(int(k.split(".")[0]) for k in state if k.count(".") == 1 and k.endswith(".weight"))
    downsamples = sum(1 for i in top if f"{i}.bias" not in state)
    return int(state[f"{top[-1]}.weight"].shape[0]), downsamples, int(first.shape[0])


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


def _load(path: Path | str, part: str, build, shape) -> nn.Sequential:
    """A network from a `.pth` (restricted unpickler) or `.safetensors`; a foreign layout raises naming the file."""
    source = open_checkpoint(path)
    try:
        names = source.keys()
        state = {k.removeprefix(f"{part}."): source.read(k, torch.float32) for k in names}
    finally:
        source.close()
    try:
        network = build(*shape(state))
        network.load_state_dict(state)
    except (ValueError, RuntimeError, KeyError, IndexError) as e:
        raise ModelLoadError(str(path), f"not a TAESD {part} ({str(e).splitlines()[0]})") from None
    return network.eval().requires_grad_(False)


def load_decoder(path: Path | str, fits: tuple[int, int] | None = None) -> nn.Sequential:
    """A TAESD decoder file (published layout, optionally under `decoder.`); `fits` (latent channels, VAE factor)
    refuses, naming the file, one made for another latent space."""
    decoder = _load(path, "decoder", build_decoder, decoder_shape)
    _check_fits(path, "decoder", decoder_shape(decoder.state_dict()), fits)
    return decoder


def load_encoder(path: Path | str, fits: tuple[int, int] | None = None) -> nn.Sequential:
    """A TAESD encoder file (published layout, optionally under `encoder.`); `fits` as for load_decoder."""
    encoder = _load(path, "encoder", build_encoder, encoder_shape)
    _check_fits(path, "encoder", encoder_shape(encoder.state_dict()), fits)
    return encoder


def _check_fits(path: Path | str, part: str, shape: tuple[int, int, int], fits: tuple[int, int] | None) -> None:
    channels, stages, _ = shape
    if fits is not None and (channels, 2 ** stages) != tuple(fits):
        raise ModelLoadError(str(path), f"this TAESD {part} is for {channels}-channel latents at 1/{2 ** stages} "
                                        f"size; the model's are {fits[0]}-channel at 1/{fits[1]}")


@torch.no_grad()
def decode(decoder: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents [B, C, h, w] → RGB [B, 3, h·f, w·f] in [0, 1] (float32, on the latents' device)."""
    weight = next(decoder.parameters())
    x = latents.to(weight.device, weight.dtype)  # [B, C, h, w]
    return decoder(x).float().clamp(0, 1).to(latents.device)  # [B, 3, H, W]


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """RGB [B, 3, H, W] in [0, 1] → scaled latents [B, C, H/f, W/f] (float32, on the images' device)."""
    weight = next(encoder.parameters())
    x = images.to(weight.device, weight.dtype)  # [B, 3, H, W]
    return encoder(x).float().to(images.device)  # [B, C, h, w]


def decoder_filename(family: str, part: str = "decoder") -> str:
    """The file A1111 uses for a model family ("sdxl" → taesdxl_<part>.pth, anything SD1/SD2 → taesd_<part>.pth).

    >>> decoder_filename("sdxl"), decoder_filename("sd1"), decoder_filename("sd2-v", "encoder")
    ('taesdxl_decoder.pth', 'taesd_decoder.pth', 'taesd_encoder.pth')
    """
    return f"taesdxl_{part}.pth" if family.startswith("sdxl") else f"taesd_{part}.pth"


def decoder_path(models_dir: Path, family: str, checkpoint: str = "", part: str = "decoder") -> Path:
    """Where A1111 keeps the file: models/VAE-taesd/<file> (the path may not exist; callers check). The built-in
    models (checkpoint file names `easel-builtin*`) have their own latent space and their own files."""
    if Path(checkpoint).name.startswith("easel-builtin"):
        name = BUILTIN_DECODER if part == "decoder" else BUILTIN_ENCODER
    else:
        name = decoder_filename(family, part)
    return Path(models_dir) / "VAE-taesd" / name


def decode_infotext(method: str, key: str = "VAE Decoder") -> dict[str, str]:
    """A1111 writes "VAE Decoder: TAESD" (and "VAE Encoder: TAESD" where it encoded) only when the method is not
    "Full" (readers assume Full).

    >>> decode_infotext("Full"), decode_infotext("TAESD"), decode_infotext("TAESD", "VAE Encoder")
    ({}, {'VAE Decoder': 'TAESD'}, {'VAE Encoder': 'TAESD'})
    """
    return {} if method == "Full" else {key: method}


def fast_decode(decoder: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """The fast-decode option: like a VAE decode, [B, C, h, w] → [B, 3, H, W] in [-1, 1]."""
    return decode(decoder, latents) * 2 - 1
