"""Seeds and prompts for every image of a request (A1111's all_seeds / all_subseeds / all_prompts)."""
from __future__ import annotations

import random
from dataclasses import dataclass


def fix_seed(seed: int, rand: random.Random | None = None) -> int:
    """-1 (or None) means a random 32-bit seed, as in A1111."""
    if seed is None or seed == -1:
        return (rand or random.SystemRandom()).randrange(2**32)
    return int(seed)


@dataclass(frozen=True)
class ImagePlan:
    """Per-image prompts and seeds; image i of batch n is index n * batch_size + i."""

    prompts: tuple[str, ...]
    negative_prompts: tuple[str, ...]
    seeds: tuple[int, ...]
    subseeds: tuple[int, ...]
    batch_size: int

    def batch(self, n: int) -> ImagePlan:
        s = slice(n * self.batch_size, (n + 1) * self.batch_size)
        return ImagePlan(self.prompts[s], self.negative_prompts[s], self.seeds[s], self.subseeds[s], self.batch_size)


def plan_images(prompt: str, negative_prompt: str, seed: int, subseed: int, subseed_strength: float,
                batch_size: int, n_iter: int) -> ImagePlan:
    """With a variation strength the seed stays and the subseed counts up; otherwise the seed counts up.

    >>> p = plan_images("a", "b", 10, 5, 0.0, 2, 2)
    >>> p.seeds, p.subseeds
    ((10, 11, 12, 13), (5, 6, 7, 8))
    >>> plan_images("a", "", 10, 5, 0.5, 2, 1).seeds
    (10, 10)
    >>> p.batch(1).seeds
    (12, 13)
    """
    count = batch_size * n_iter
    seeds = tuple(seed + (i if subseed_strength == 0 else 0) for i in range(count))
    subseeds = tuple(subseed + i for i in range(count))
    return ImagePlan((prompt,) * count, (negative_prompt,) * count, seeds, subseeds, batch_size)
