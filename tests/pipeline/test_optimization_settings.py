"""A1111's Optimizations settings. batch_cond_uncond: on (the default), an image's prompt and negative prompt rows
share one UNet call; off, every row gets a call of its own (less memory at the peak), the picture the same up to
rounding. persistent_cond_cache: off, a job encodes its prompts again."""
from __future__ import annotations

from typing import Any

import numpy as np

from modules.pipeline.request import GenerationRequest

BASE: dict[str, Any] = dict(prompt="a red circle", negative_prompt="blue", steps=2, width=64, height=64, seed=3,
            sampler_name="Euler", batch_size=2)


def unet_batches(app, **settings) -> tuple[list[int], np.ndarray]:
    """(rows per UNet call, pixels of the first image) of one run."""
    model = app.models.get(None)
    rows: list[int] = []
    forward = model.engine.unet_forward

    def counted(x, *args, **kwargs):  # x [N, C, h, w]
        rows.append(x.shape[0])
        return forward(x, *args, **kwargs)

    model.engine.unet_forward = counted
    try:
        result = app.txt2img(GenerationRequest(**BASE, override_settings=settings))
    finally:
        del model.engine.unet_forward
    return rows, np.asarray(result.images[0], dtype=np.float32)


def test_off_gives_every_row_its_own_call_and_the_same_picture(app):
    together, image = unet_batches(app)
    apart, image_apart = unet_batches(app, batch_cond_uncond=False)
    assert together == [2] * 4  # 2 steps x 2 images, each image's cond and uncond rows in one call
    assert apart == [1] * 8
    assert np.abs(image - image_apart).mean() < 2.0  # rounding of other batch shapes only (0-255 scale)
    assert unet_batches(app, exact_batches=False)[0] == [4] * 2  # without exact batches: every row at once
    assert unet_batches(app, batch_cond_uncond=False, exact_batches=False)[0] == [1] * 8


def test_persistent_cond_cache_off_encodes_the_prompts_again_in_the_next_job(app):
    """A1111's persistent_cond_cache: on, a second job with the same prompts reuses their encodings; off, it
    encodes them again (and still reuses them within the job)."""
    cache = app.services.conditioning
    request = dict(BASE, batch_size=1, n_iter=2)
    app.txt2img(GenerationRequest(**request))
    misses = cache.misses
    app.txt2img(GenerationRequest(**request))
    assert cache.misses == misses  # all from the cache
    app.txt2img(GenerationRequest(**request, override_settings={"persistent_cond_cache": False}))
    again = cache.misses - misses
    assert again == 2  # the prompt and the negative prompt, once each for the job's two batches
