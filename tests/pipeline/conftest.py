"""An App over a fresh data dir holding a copy of the tiny checkpoint, built through webui.build_app."""
from __future__ import annotations

import shutil

import pytest

import webui
from modules import cli


def make_app(tmp_path, checkpoint, *flags):
    target = tmp_path / "models" / "Stable-diffusion"
    target.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.parent.glob(checkpoint.stem + ".*"):
        shutil.copy(file, target / file.name)
    return webui.build_app(cli.parse_args(["--data-dir", str(tmp_path), *flags], env={}))


@pytest.fixture
def app(tmp_path, tiny_checkpoint):
    return make_app(tmp_path, tiny_checkpoint)


@pytest.fixture
def app_fp32(tmp_path, tiny_checkpoint):
    return make_app(tmp_path, tiny_checkpoint, "--precision", "full")
