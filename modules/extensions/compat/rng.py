"""A1111's `modules.rng`: seeded noise. `ImageRNG` is Easel's (modules/sampling/noise.py): the same numbers A1111
makes for a seed on each source (CPU, GPU, NV), so an extension's own noise matches a generation's."""
from __future__ import annotations

from modules.extensions.compat.devices import randn, randn_like, randn_local, randn_without_seed  # noqa: F401


def _source() -> str:
    from modules.extensions.compat import shared

    return str(shared.opts.randn_source).lower()


class ImageRNG:
    """`next()` → noise [B, C, H, W] for `seeds` (one per image), as A1111's ImageRNG."""

    def __init__(self, shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0,
                 seed_resize_from_w=0):
        from modules.extensions.compat import devices
        from modules.sampling.noise import ImageRNG as CoreRNG

        self.shape, self.seeds, self.subseeds = tuple(shape), list(seeds), subseeds
        self._core = CoreRNG(shape, seeds, subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w,
                             source=_source(), device=devices.device)

    @property
    def is_first(self) -> bool:
        return self._core.is_first

    def first(self):
        return self._core.first()

    def next(self):
        return self._core.next()
