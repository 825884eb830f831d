"""Seeds and noise, with A1111's `modules/rng.py` semantics so that a seed gives the same image as there.

Each image of a batch owns a `torch.Generator` seeded with its own seed, so image i of a batch equals a single
run with seed + i. The first draw is the initial latent noise (optionally slerped with a variation seed's noise,
or drawn at another size and centred: "resize seed from"); later draws feed the sampler's noise. With an eta
noise seed delta (ENSD) the later draws come from generators re-seeded with seed + ENSD.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from modules.errors import InvalidInput
from modules.sampling.philox import PhiloxGenerator

SOURCES = ("cpu", "gpu", "nv")


def fix_seed(seed) -> int:
    """-1, None or "" -> a random 32-bit seed (as A1111: randrange(4294967294)); any other int is kept."""
    if seed is None or seed == "" or seed == -1:
        return int(random.randrange(4294967294))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput("seed", f"{seed!r} is not a seed", "a whole number >= 0, or -1 for a random seed")
    return seed


def slerp(val: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation, A1111's (norms and dot products over dim 1, linear when nearly parallel)."""
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / so).unsqueeze(1) * low + (torch.sin(val * omega) / so).unsqueeze(1) * high


class ImageRNG:
    """Per-image noise for a batch. `shape` is one image's latent shape (C, H, W); results are [B, C, H, W].

    source "cpu" draws on the CPU and moves to `device` (same numbers on every machine); "gpu" draws on `device`;
    "nv" computes NVIDIA's CUDA numbers on any device (A1111's "NV": remakes images made on such a GPU).
    """

    def __init__(self, shape: Sequence[int], seeds: Sequence[int], subseeds: Sequence[int] | None = None,
                 subseed_strength: float = 0.0, seed_resize_from_h: int = 0, seed_resize_from_w: int = 0,
                 eta_noise_seed_delta: int = 0, source: str = "cpu", device="cpu", latent_factor: int = 8):
        if source not in SOURCES:
            raise InvalidInput("randn_source", f"unknown noise source {source!r}", ", ".join(SOURCES))
        self.shape = tuple(shape)
        self.seeds = [int(s) for s in seeds]
        self.subseeds = None if subseeds is None else [int(s) for s in subseeds]
        self.subseed_strength = subseed_strength
        self.seed_resize_from_h = seed_resize_from_h
        self.seed_resize_from_w = seed_resize_from_w
        self.latent_factor = latent_factor  # pixels per latent cell: the resize-from size is given in pixels
        self.eta_noise_seed_delta = int(eta_noise_seed_delta or 0)
        self.device = torch.device(device)
        self.source = source
        self.gen_device = self.device if source == "gpu" else torch.device("cpu")
        self.generators = [self._generator(s) for s in self.seeds]
        self.is_first = True

    def _generator(self, seed: int):
        if self.source == "nv":
            return PhiloxGenerator(seed)
        return torch.Generator(self.gen_device).manual_seed(int(seed))

    def _randn(self, shape, generator) -> torch.Tensor:
        if isinstance(generator, PhiloxGenerator):
            return torch.from_numpy(generator.randn(tuple(shape)))
        return torch.randn(shape, device=self.gen_device, generator=generator)

    def first(self) -> torch.Tensor:
        """The initial noise [B, C, H, W]: per image its seed's first draw, variation and resize applied.

        Call once per run (`next()` does it on its first call); later draws come from `next()`.
        """
        self.is_first = False
        noise_shape = self.resized_shape()
        xs = []
        for i, (seed, generator) in enumerate(zip(self.seeds, self.generators)):
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subseed = 0 if i >= len(self.subseeds) else self.subseeds[i]
                subnoise = self._randn(noise_shape, self._generator(subseed))  # [C, h, w]
            own = self._generator(seed) if noise_shape != self.shape else generator
            noise = self._randn(noise_shape, own)  # [C, h, w]
            if subnoise is not None:
                noise = slerp(self.subseed_strength, noise, subnoise)
            if noise_shape != self.shape:
                noise = _centre(noise, self._randn(self.shape, generator))  # [C, H, W]
            xs.append(noise)
        if self.eta_noise_seed_delta:
            self.generators = [self._generator(s + self.eta_noise_seed_delta) for s in self.seeds]
        return torch.stack(xs).to(self.device)  # [B, C, H, W]

    def resized_shape(self) -> tuple[int, ...]:
        """The shape a seed's first draw has: the latent shape, or the "resize seed from" size's (C, h, w)."""
        if self.seed_resize_from_h > 0 and self.seed_resize_from_w > 0:
            f = self.latent_factor
            return (self.shape[0], self.seed_resize_from_h // f, self.seed_resize_from_w // f)
        return self.shape

    def next(self) -> torch.Tensor:
        """The first call returns `first()`; later calls the next draw [B, C, H, W] of each image's generator."""
        if self.is_first:
            return self.first()
        return torch.stack([self._randn(self.shape, g) for g in self.generators]).to(self.device)

    def noise_sampler(self, x: torch.Tensor):
        """A k-diffusion style `noise_sampler(sigma, sigma_next) -> noise like x` drawing from `next()`."""
        def sample(sigma, sigma_next) -> torch.Tensor:
            return self.next().to(device=x.device, dtype=x.dtype)
        return sample


def _centre(noise: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """Paste `noise` [C, h, w] centred onto `canvas` [C, H, W] (cropping when larger), A1111's seed resize."""
    dx = (canvas.shape[2] - noise.shape[2]) // 2
    dy = (canvas.shape[1] - noise.shape[1]) // 2
    w = noise.shape[2] if dx >= 0 else noise.shape[2] + 2 * dx
    h = noise.shape[1] if dy >= 0 else noise.shape[1] + 2 * dy
    tx, ty = max(dx, 0), max(dy, 0)
    sx, sy = max(-dx, 0), max(-dy, 0)
    canvas[:, ty:ty + h, tx:tx + w] = noise[:, sy:sy + h, sx:sx + w]
    return canvas


class BrownianTreeNoise:
    """Noise for SDE samplers from one Brownian tree per image (torchsde), seeded with the image's seed.

    A Brownian tree answers W(sigma_next) - W(sigma) consistently whatever the step sizes, so an SDE sampler's
    result depends on the seed only, not on the batch it ran in. Same construction as k-diffusion's
    `BrownianTreeNoiseSampler` with a list of seeds (A1111's batch determinism). The trees are built on first use.
    """

    def __init__(self, x: torch.Tensor, sigma_min, sigma_max, seeds: Sequence[int], per_image: bool = True):
        self.x, self.seeds, self.per_image = x, [int(s) for s in seeds], per_image
        self.t0, self.t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        self.trees: list | None = None

    @classmethod
    def whole_batch(cls, x: torch.Tensor, sigma_min, sigma_max, rng: ImageRNG) -> BrownianTreeNoise:
        """A1111's no_dpmpp_sde_batch_determinism: one tree over the whole batch [B, C, H, W], so an image depends
        on the batch it ran in, seeded as k-diffusion seeds it when given no seed (`torch.randint` of the global
        generator, which A1111's noise left seeded with the batch's last seed)."""
        return cls(x, sigma_min, sigma_max, [unseeded_tree_entropy(rng)], per_image=False)

    def _build(self) -> list:
        import torchsde  # needed only by the SDE samplers

        w0 = torch.zeros_like(self.x)  # [B, C, H, W]
        if not self.per_image:
            return [torchsde.BrownianTree(self.t0, w0, self.t1, entropy=self.seeds[0])]
        return [torchsde.BrownianTree(self.t0, w0[0], self.t1, entropy=s) for s in self.seeds]

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        if self.trees is None:
            self.trees = self._build()
        t0, t1 = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        lo, hi, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        if self.per_image:
            w = torch.stack([tree(lo, hi) for tree in self.trees]) * sign  # [B, C, H, W]
        else:
            w = self.trees[0](lo, hi) * sign  # [B, C, H, W]
        return w / (t1 - t0).abs().sqrt()


def unseeded_tree_entropy(rng: ImageRNG) -> int:
    """The seed k-diffusion draws for a Brownian tree it is given none (`torch.randint(0, 2**63 - 1, [])` of
    torch's default CPU generator), in the state A1111's noise leaves it: seeded with the batch's last seed,
    then advanced by that seed's draw when a resized seed drew it on the CPU without its own generator. A1111's
    "NV" source never seeds torch's generator, so there it is whatever came before; here it is the same rule."""
    generator = torch.Generator().manual_seed(rng.seeds[-1])
    if rng.resized_shape() != rng.shape and rng.gen_device.type == "cpu":
        torch.randn(rng.resized_shape(), generator=generator)
    return int(torch.randint(0, 2 ** 63 - 1, [], generator=generator).item())
