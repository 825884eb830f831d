"""Live previews go through the model's TAESD decoder when the setting asks for one and the file exists (the
built-in model ships its own, models/VAE-taesd/), and through the cheap approximation otherwise."""
from __future__ import annotations

from modules.imaging.preview import preview_image
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest

REQUEST = GenerationRequest(prompt="a red star at the top on a blue background", steps=4, width=64, height=64,
                            seed=5, sampler_name="Euler")


def preview_of(app, method: str):
    app.options.set("live_previews_enable", True)
    app.options.set("show_progress_every_n_steps", 2)
    app.options.set("show_progress_type", method)
    job = Job()
    app.txt2img(REQUEST, job)
    return job, preview_image(job.preview, job.previewer)


def test_builtin_model_previews_with_its_taesd_decoder(builtin_app):
    job, image = preview_of(builtin_app, "TAESD")
    assert job.previewer.method == "TAESD" and image.size == (64, 64)  # full size, not the 16×16 latent grid


def test_cheap_previews_when_asked_or_without_a_file(app):
    job, image = preview_of(app, "Approx cheap")
    assert job.previewer.method == "Approx cheap" and image is not None
    job, _ = preview_of(app, "TAESD")  # the tiny test model has no TAESD file
    assert job.previewer.method == "Approx cheap"
