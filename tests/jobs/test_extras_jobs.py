"""Extras runs as a job of the one queue: stored, resumable after a restart, results kept until fetched."""
import io

from PIL import Image

from modules.pipeline.extras import ExtrasRequest
from tests.pipeline.conftest import make_app


def test_extras_is_a_queued_job_whose_result_is_stored(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, tiny_checkpoint)
    request = ExtrasRequest(images=(Image.new("RGB", (8, 6), "red"),), upscaler_1="Lanczos", upscaling_resize=2)
    job = app.jobs.submit("extras", request)  # as a queued job left by a crash would run: not waited for
    assert app.jobs.wait(job.id, timeout=60)
    record, pngs = app.jobs.result(job.id)
    assert record.status == "done" and len(pngs) == 1
    assert Image.open(io.BytesIO(pngs[0])).size == (16, 12)
    synchronous = app.extras(request)
    assert synchronous.images[0].size == (16, 12) and not synchronous.interrupted
