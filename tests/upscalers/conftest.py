"""The pipeline's `app` fixture, for the tests here that run upscalers through an App."""
from tests.pipeline.conftest import app  # noqa: F401
