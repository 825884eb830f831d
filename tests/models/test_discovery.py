"""Checkpoint and VAE discovery, titles, and the sd_vae resolution rules."""
from pathlib import Path

import pytest

from modules.errors import NotFound
from modules.models.discovery import CheckpointInfo, find_checkpoints_in, find_vaes_in, resolve_vae
from modules.paths import Paths


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def tree(tmp_path):
    sd = tmp_path / "data" / "models" / "Stable-diffusion"
    _touch(sd / "b.safetensors")
    _touch(sd / "sub" / "A.ckpt")
    _touch(sd / "sub" / "A.yaml")
    _touch(sd / "b.vae.safetensors")
    _touch(sd / "notes.txt")
    _touch(sd / "b.vae.pt")
    _touch(tmp_path / "data" / "models" / "VAE" / "deep" / "kl-f8.safetensors")
    _touch(tmp_path / "data" / "models" / "VAE" / "orangemix.vae.pt")
    extra = _touch(tmp_path / "elsewhere" / "picked.safetensors")
    install = tmp_path / "install"
    return Paths(data_dir=tmp_path / "data", install_dir=install, extra_checkpoint_files=(extra,))


def test_checkpoints_found_recursively_without_vaes(tree):
    infos = find_checkpoints_in(tree)
    assert [c.name for c in infos] == ["picked.safetensors", "b.safetensors", "sub/A.ckpt"]  # --ckpt first
    a = infos[2]
    assert a.model_name == "A" and a.title == "sub/A.ckpt" and a.config_path == a.path.with_suffix(".yaml")
    assert infos[1].config_path is None
    assert a.with_hash("0123456789abcdef" * 4).title == "sub/A.ckpt [0123456789]"


def test_vaes_from_vae_folder_and_beside_checkpoints(tree):
    names = [v.name for v in find_vaes_in(tree)]
    assert names == ["b.vae.pt", "b.vae.safetensors", "kl-f8.safetensors", "orangemix.vae.pt"]


def test_resolve_vae_rules(tree):
    vaes = find_vaes_in(tree)
    b, other = CheckpointInfo(Path("/x/b.safetensors"), "b.safetensors"), CheckpointInfo(Path("/x/c.ckpt"), "c.ckpt")
    assert resolve_vae("Automatic", b, vaes).name.startswith("b.vae")  # name starts with the model name
    assert resolve_vae("Automatic", other, vaes) is None  # nothing matches: baked-in
    assert resolve_vae("None", b, vaes) is None
    assert resolve_vae("kl-f8.safetensors", other, vaes).path.name == "kl-f8.safetensors"
    assert resolve_vae("orangemix.vae", other, vaes).name == "orangemix.vae.pt"
    with pytest.raises(NotFound, match=r"unknown VAE 'nope'.*valid: Automatic, None, b\.vae\.pt"):
        resolve_vae("nope", other, vaes)


def test_missing_folders_list_nothing(tmp_path):
    paths = Paths(data_dir=tmp_path / "empty", install_dir=tmp_path / "install")
    assert find_checkpoints_in(paths) == [] and find_vaes_in(paths) == []
