"""Shared test fixtures: tiny SD1 checkpoints built in well under a second, and the `slow` marker."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tiny_model import make_tiny_checkpoint

# Fixture extensions are A1111 extensions, not test modules: they import `launch` and `modules.scripts` (only
# importable through the compat layer) and one has a syntax error on purpose.
collect_ignore_glob = ["fixtures/extensions/*"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than 30 s (still run in CI)")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny SD1 `.safetensors` (+ yaml) at `<data dir>/models/Stable-diffusion/`; data dir = `path.parents[2]`.

    Shared by the whole session: copy it before changing anything around it.
    """
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-data") / "models" / "Stable-diffusion")


@pytest.fixture(scope="session")
def tiny_inpaint_checkpoint(tmp_path_factory) -> Path:
    """A tiny 9-channel SD1 inpainting checkpoint, laid out like `tiny_checkpoint`."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-inpaint-data") / "models" / "Stable-diffusion",
                                inpaint=True)
