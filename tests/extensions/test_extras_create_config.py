"""`modules.extras.create_config`: a checkpoint merger (sd-webui-supermerger's "copy config") gives its merge the
yaml config of a merged model, so a model that needs its own config loads after the merge is saved."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

from modules.extensions.compat import install_aliases


def _checkpoint(folder, name: str, yaml: str | None):
    (folder / f"{name}.safetensors").write_bytes(b"")
    if yaml is not None:
        (folder / f"{name}.yaml").write_text(yaml)
    return SimpleNamespace(filename=str(folder / f"{name}.safetensors"))


def test_first_merged_model_with_a_config_gives_it(tmp_path):
    install_aliases()
    extras = importlib.import_module("modules.extras")
    a, b = _checkpoint(tmp_path, "a", None), _checkpoint(tmp_path, "b", "model: b\n")
    extras.create_config(str(tmp_path / "merged.safetensors"), 0, a, b, None)
    assert (tmp_path / "merged.yaml").read_text() == "model: b\n"


def test_chosen_model_without_config_copies_nothing(tmp_path):
    install_aliases()
    extras = importlib.import_module("modules.extras")
    a, b = _checkpoint(tmp_path, "a", "model: a\n"), _checkpoint(tmp_path, "b", None)
    extras.create_config(str(tmp_path / "merged.safetensors"), 1, a, b, None)
    extras.create_config(str(tmp_path / "merged.safetensors"), 3, a, b, None)  # "no config"
    assert not (tmp_path / "merged.yaml").exists()
