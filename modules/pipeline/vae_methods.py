"""A1111's "VAE type for decode / encode" settings (`sd_vae_decode_method`, `sd_vae_encode_method`): "Full" uses the
model's VAE, "TAESD" the tiny autoencoder from models/VAE-taesd/ (docs/previews.md); and HyperTile on the VAE
(`hypertile_enable_vae`, docs/performance.md).

A run that asks for either works on a `FastVaeModel`: the same loaded model (same engine, same weights) whose
`decode` / `encode` go through the TAESD networks or tile the decoder's attention, so every decode and encode of the
run (final images, hires fix, img2img and inpainting inputs) follows the settings. The file is never downloaded: a
missing or foreign file stops the run before sampling, naming the file, rather than quietly decoding in full.
"""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import torch

from modules.errors import ModelLoadError
from modules.models.loaded import LoadedModel
from modules.models.speedups.options import VaeTiles

METHODS = ("Full", "TAESD")


@dataclasses.dataclass(eq=False)
class FastVaeModel(LoadedModel):
    """A LoadedModel whose decode and/or encode run through TAESD networks (None: the model's own VAE), or whose full
    decoder runs its attention in tiles (`decode_tiles`, drawing from `tile_rng`)."""

    fast_decoder: torch.nn.Module | None = None
    fast_encoder: torch.nn.Module | None = None
    decode_tiles: VaeTiles | None = None
    tile_rng: random.Random = dataclasses.field(default_factory=random.Random)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents [B,C,h,w] → images [B,3,h*f,w*f] float32 in [0, 1]."""
        if self.fast_decoder is not None:
            from modules.models.taesd import decode

            return decode(self.fast_decoder, latents)  # [B, 3, H, W]
        if self.decode_tiles is None:
            return super().decode(latents)
        return torch.cat([self._tiled_decode(latents[i:i + 1]) for i in range(latents.shape[0])])

    def _tiled_decode(self, latent: torch.Tensor) -> torch.Tensor:
        """One image [1,C,h,w] → [1,3,H,W] with the decoder's attention tiled; one image per call, as A1111 decodes,
        so each image of a batch draws its own tile counts."""
        from modules.models.speedups.vae_tiles import tiled_decoder

        assert self.decode_tiles is not None
        f = self.vae_scale_factor
        size = (latent.shape[3] * f, latent.shape[2] * f)  # (width, height) in pixels
        with tiled_decoder(self.vae, self.decode_tiles, size, self.tile_rng):
            return super().decode(latent)  # [1, 3, H, W]

    def encode(self, images: torch.Tensor, generator: torch.Generator | None = None,
               sample: bool = True) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] → scaled latents [B,C,H/f,W/f]; TAESD's encoder is deterministic (no posterior
        to sample), as in A1111."""
        if self.fast_encoder is None:
            return super().encode(images, generator, sample)
        from modules.models.taesd import encode

        return encode(self.fast_encoder, images)  # [B, C, h, w]


def taesd_file(models_dirs: list[Path], model: LoadedModel, part: str) -> Path:
    """The first existing TAESD `part` file ("decoder" / "encoder") for the model's latent space, searching
    `models_dirs` in order; raises naming where it looked when there is none."""
    from modules.models.taesd import decoder_path

    candidates = [decoder_path(d, model.family, model.checkpoint.path.name, part) for d in models_dirs]
    for path in candidates:
        if path.is_file():
            return path
    setting = f"sd_vae_{part[:6]}_method"
    raise ModelLoadError(str(candidates[0]), f"{setting} is TAESD but the file is missing (Easel downloads nothing: "
                                             f"put the TAESD {part} there, or set {setting} to Full)")


def method_of(opts: Any, part: str) -> str:
    """The setting's value, checked: anything but Full / TAESD is refused naming the setting."""
    setting = f"sd_vae_{part[:6]}_method"
    value = getattr(opts, setting, "Full")
    if value not in METHODS:
        from modules.errors import InvalidInput

        raise InvalidInput(setting, f"unknown VAE method {value!r}", " or ".join(METHODS))
    return value


def vae_tiles(opts: Any, seed: int) -> VaeTiles | None:
    """HyperTile's VAE settings for a job whose first seed is `seed` (None when `hypertile_enable_vae` is off);
    a value out of range is refused naming the setting."""
    if not opts.hypertile_enable_vae:
        return None
    return VaeTiles(int(opts.hypertile_max_depth_vae), int(opts.hypertile_max_tile_vae),
                    int(opts.hypertile_swap_size_vae), int(seed))


def with_vae_methods(model: LoadedModel, opts: Any, models_dirs: list[Path], seed: int) -> LoadedModel:
    """`model` itself when both settings are Full and the VAE is not tiled; else a FastVaeModel with the TAESD
    networks asked for, loaded from the first of `models_dirs` that has them (the user's models folder, then the
    install folder, where the built-in model's decoder ships), or with HyperTile's VAE tiles seeded by `seed` (the
    job's first seed; TAESD has no attention to tile, so a TAESD decode leaves them out, as in A1111)."""
    from modules.models.taesd import load_decoder, load_encoder

    decode, encode = method_of(opts, "decoder"), method_of(opts, "encoder")
    tiles = vae_tiles(opts, seed) if decode == "Full" else None
    if decode == encode == "Full" and tiles is None:
        return model
    fits = (model.latent_channels, model.vae_scale_factor)
    decoder = load_decoder(taesd_file(models_dirs, model, "decoder"), fits) if decode == "TAESD" else None
    encoder = load_encoder(taesd_file(models_dirs, model, "encoder"), fits) if encode == "TAESD" else None
    fields = {f.name: getattr(model, f.name) for f in dataclasses.fields(LoadedModel)}
    return FastVaeModel(**fields, fast_decoder=_on(decoder, model), fast_encoder=_on(encoder, model),
                        decode_tiles=tiles, tile_rng=random.Random(seed))


def _on(network: torch.nn.Module | None, model: LoadedModel) -> torch.nn.Module | None:
    """The network on the model's device in its VAE dtype (as A1111 runs TAESD in the model's dtype)."""
    return None if network is None else network.to(model.device, model.vae_dtype)


def method_infotext(opts: Any, encodes: bool) -> dict[str, str]:
    """A1111's entries: "VAE Decoder" whenever images are decoded with a method other than Full, "VAE Encoder"
    when the run encodes images (img2img, hires fix through an image upscaler) with one."""
    from modules.models.taesd import decode_infotext

    info = decode_infotext(method_of(opts, "decoder"))
    if encodes:
        info.update(decode_infotext(method_of(opts, "encoder"), "VAE Encoder"))
    return info
