"""First run: with no checkpoint of the user's own, the built-in model is selected and the log says so; with one,
the user's checkpoint wins. Native size is known without loading weights."""
from __future__ import annotations

import logging
import shutil

import pytest

from modules.models.devices import DeviceConfig
from modules.models.hashing import HashCache
from modules.models.manager import ModelManager
from modules.paths import INSTALL_DIR, Paths


@pytest.fixture
def install(tmp_path, tiny_checkpoint):
    """An install folder whose built-in model is the tiny checkpoint (native size 64) under the built-in name."""
    folder = tmp_path / "install" / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    for suffix in (".safetensors", ".yaml"):
        shutil.copy(tiny_checkpoint.with_suffix(suffix), folder / f"easel-builtin{suffix}")
    (tmp_path / "install" / "configs").symlink_to(INSTALL_DIR / "configs")  # tokenizer files
    return tmp_path / "install"


def _manager(tmp_path, install):
    paths = Paths(data_dir=tmp_path / "data", install_dir=install)
    return ModelManager(paths, DeviceConfig(), HashCache(paths.cache_json, enabled=False))


def test_builtin_model_is_selected_when_there_is_no_other(tmp_path, install, caplog):
    manager = _manager(tmp_path, install)
    assert "built-in model easel-builtin" in manager.builtin_note()
    with caplog.at_level(logging.INFO, logger="modules.models.manager"):
        assert manager.native_size() == 64
        model = manager.get()
        assert model.checkpoint.model_name == "easel-builtin" and model.native_size == 64
        manager.unload()
        assert manager.get().checkpoint.model_name == "easel-builtin"
    assert "using Easel's built-in model easel-builtin" in caplog.text
    assert caplog.text.count("using Easel's built-in model") == 1  # said once, not at every default pick


def test_a_checkpoint_of_the_users_own_wins_and_is_listed_first(tmp_path, install, tiny_checkpoint):
    own = tmp_path / "data" / "models" / "Stable-diffusion"
    own.mkdir(parents=True)
    for suffix in (".safetensors", ".yaml"):  # names sort after "easel-builtin"
        shutil.copy(tiny_checkpoint.with_suffix(suffix), own / f"zeta{suffix}")
    manager = _manager(tmp_path, install)
    assert [c.model_name for c in manager.list_checkpoints()] == ["zeta", "easel-builtin"]
    assert manager.builtin_note() is None
    assert manager.get().checkpoint.model_name == "zeta"
    shutil.copy(tiny_checkpoint, own / "yplain.safetensors")  # no yaml beside it: an SD 1.x file
    manager = _manager(tmp_path, install)
    assert manager.native_size() == 512 and manager.native_size("easel-builtin") == 64


def test_the_builtin_inpainting_variant_is_listed_after_the_model_and_never_the_default(tmp_path, install,
                                                                                         tiny_checkpoint):
    folder = install / "models" / "Stable-diffusion"
    for suffix in (".safetensors", ".yaml"):  # "easel-builtin-" sorts before "easel-builtin."
        shutil.copy(tiny_checkpoint.with_suffix(suffix), folder / f"easel-builtin-inpainting{suffix}")
    manager = _manager(tmp_path, install)
    assert [c.model_name for c in manager.list_checkpoints()] == ["easel-builtin", "easel-builtin-inpainting"]
    assert "built-in model easel-builtin " in manager.builtin_note()
    assert manager.get().checkpoint.model_name == "easel-builtin"
