"""Fixtures the training tests share: 16 rendered training pictures and the compact vocabulary."""
from __future__ import annotations

import pytest

from modules.conditioning.tokenizer import load_clip_tokenizer
from modules.paths import INSTALL_DIR
from modules.training.dataset import load_or_render
from modules.training.vocab import CompactVocab


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_or_render(tmp_path_factory.mktemp("data"), 16, seed=3)


@pytest.fixture(scope="module")
def vocab():
    return CompactVocab(load_clip_tokenizer(INSTALL_DIR / "configs"))
