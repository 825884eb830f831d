"""The speed options of one sampling pass, as plain values (no torch: the request layer and the API import this).

Setting names and infotext keys are A1111's where A1111 has the option (token merging; its built-in Hypertile
extension) and SD.Next's for feature caching (`deep_cache_interval`); docs/performance.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from modules.errors import InvalidInput

MAX_TOKEN_MERGING_RATIO = 0.9  # A1111's slider maximum
MAX_DEEP_CACHE_INTERVAL = 10


def _check(name: str, value, low, high) -> None:
    """A clear error naming the setting when a value is outside [low, high].

    >>> _check("token_merging_ratio", 0.95, 0.0, 0.9)
    Traceback (most recent call last):
    modules.errors.InvalidInput: token_merging_ratio: 0.95 is out of range (valid: 0.0 to 0.9)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidInput(name, f"{value!r} is out of range", f"{low} to {high}")


@dataclass(frozen=True)
class HyperTile:
    """Tiled self-attention (A1111's `hypertile_*_unet` settings): at depth ≤ `max_depth` the tokens of each
    self-attention are split into tiles of about `max_tile` pixels a side; `swap_size` is how many tile counts
    are drawn from at random (seeded by the first seed of the batch)."""

    max_depth: int = 3
    max_tile: int = 256
    swap_size: int = 3
    seed: int = 0

    def __post_init__(self):
        _check("hypertile_max_depth_unet", self.max_depth, 0, 3)
        _check("hypertile_max_tile_unet", self.max_tile, 0, 512)
        _check("hypertile_swap_size_unet", self.swap_size, 0, 64)


@dataclass(frozen=True)
class VaeTiles:
    """HyperTile on the VAE decoder (A1111's `hypertile_*_vae` settings): the decoder's mid-block attention runs on
    tiles of about `max_tile` pixels a side, the tile counts drawn among the `swap_size` finest from a generator
    seeded with the job's first seed. Its only tiled layer sits at depth 0, so `max_depth` (0 to 3, checked as
    A1111's slider) never turns it off, as in A1111."""

    max_depth: int = 3
    max_tile: int = 128
    swap_size: int = 3
    seed: int = 0

    def __post_init__(self):
        _check("hypertile_max_depth_vae", self.max_depth, 0, 3)
        _check("hypertile_max_tile_vae", self.max_tile, 0, 512)
        _check("hypertile_swap_size_vae", self.swap_size, 0, 64)


@dataclass(frozen=True)
class UnetPatches:
    """What a pass changes in its UNet calls. The defaults change nothing (the exact path)."""

    token_merging_ratio: float = 0.0  # share of the full-resolution tokens merged before self-attention
    deep_cache_interval: int = 1  # full UNet on every N-th step, the shallow branch only in between (1: off)
    hypertile: HyperTile | None = None

    def __post_init__(self):
        _check("token_merging_ratio", self.token_merging_ratio, 0.0, MAX_TOKEN_MERGING_RATIO)
        _check("deep_cache_interval", self.deep_cache_interval, 1, MAX_DEEP_CACHE_INTERVAL)

    @property
    def active(self) -> bool:
        """Whether any option is on.

        >>> UnetPatches().active, UnetPatches(token_merging_ratio=0.3).active
        (False, True)
        """
        return self.token_merging_ratio > 0 or self.deep_cache_interval > 1 or self.hypertile is not None

    @property
    def patches_attention(self) -> bool:
        return self.token_merging_ratio > 0 or self.hypertile is not None


NO_PATCHES = UnetPatches()
