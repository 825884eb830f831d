"""Shared test fixtures: tiny SD1 checkpoints built in well under a second, the `slow` and `precision` markers,
and `EASEL_TEST_PRECISION` (see docs/pipeline.md, "Testing both precisions")."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.tiny_model import make_tiny_checkpoint

# Fixture extensions are A1111 extensions, not test modules: they import `launch` and `modules.scripts` (only
# importable through the compat layer) and one has a syntax error on purpose.
collect_ignore_glob = ["fixtures/extensions/*"]


PRECISION_ENV = "EASEL_TEST_PRECISION"
PRECISIONS = ("float32", "bfloat16")
# Pipeline tests that build a tiny model compare images made in the dtype the device choice picks: they are the
# dtype-dependent ones. Elsewhere a test opts in with `@pytest.mark.precision`.
MODEL_FIXTURES = frozenset({"tiny_checkpoint", "tiny_inpaint_checkpoint"})
PRECISION_DIRS = ("tests/pipeline/",)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than 30 s (still run in CI)")
    config.addinivalue_line("markers", "precision: runs a model, so its dtype matters (run_tests.sh runs these "
                                       "again in the other CPU precision)")


def pytest_collection_modifyitems(config, items):
    """Mark every pipeline test that uses a tiny model (directly or through a fixture) as dtype-dependent."""
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix() if root in Path(str(item.path)).parents else ""
        if where.startswith(PRECISION_DIRS) and MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.precision)


def forced_hardware(precision: str):
    """The hardware facts that make the default device choice pick `precision` on the CPU: a CPU with or
    without fast bf16 (AVX512-BF16). Flags such as `--precision full` still win, as on a real machine."""
    from modules.models.devices import HardwareFacts

    if precision not in PRECISIONS:
        raise pytest.UsageError(f"{PRECISION_ENV}={precision!r}: expected one of {', '.join(PRECISIONS)}")
    flags = frozenset({"avx512_bf16"}) if precision == "bfloat16" else frozenset()
    return HardwareFacts(cpu_capability="DEFAULT", cpu_flags=flags)


@pytest.fixture(scope="session", autouse=True)
def test_precision():
    """With EASEL_TEST_PRECISION=float32|bfloat16 every App of the session runs its models in that dtype (on the
    CPU); unset, the machine decides (bf16 with AVX512-BF16 or AMX, else float32)."""
    precision = os.environ.get(PRECISION_ENV, "").strip()
    if not precision:
        yield None
        return
    from modules.models import devices

    facts = forced_hardware(precision)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(devices, "detect_hardware", lambda: facts)
        yield precision


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
