"""Values that may be missing (a family row without an engine or a shipped config, an engine without a single CLIP
text encoder, an SDXL tower set without a pooled output) are refused with an error that says what is missing,
not with a TypeError about None somewhere inside."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modules.errors import ModelLoadError
from modules.models.devices import DeviceConfig
from modules.models.discovery import CheckpointInfo
from modules.models.families import family_by_name
from modules.models.hashing import HashCache
from modules.models.loaded import LoadedModel
from modules.models.loader import engine_of, spec_for
from modules.models.manager import ModelManager
from modules.paths import Paths
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)
PIX2PIX = family_by_name("sd1-pix2pix")  # recognised, no engine and no shipped yaml


def test_a_family_without_an_engine_is_a_load_error():
    with pytest.raises(ModelLoadError, match=r"p2p\.safetensors.*SD 1\.x instruct-pix2pix checkpoints are not "
                                             r"supported yet"):
        engine_of(PIX2PIX, Path("p2p.safetensors"))


def test_a_family_without_a_shipped_config_asks_for_a_yaml_beside_the_file(tmp_path):
    info = CheckpointInfo(tmp_path / "p2p.safetensors", "p2p.safetensors")
    with pytest.raises(ModelLoadError, match=r"p2p\.safetensors.*no shipped model config; put a same-name \.yaml"):
        spec_for(info, PIX2PIX, tmp_path)


class _NoClipEngine:
    """An engine whose first text encoder is not run layer by layer (no `text_layers`/`text_hidden_states`)."""


class _ClipEngine:
    text_layers = 3

    def text_hidden_states(self, input_ids: torch.Tensor, clip_skip: int = 1) -> torch.Tensor:
        return torch.full((*input_ids.shape, 2), float(clip_skip))  # [B, 77, 2]


def _loaded(engine) -> LoadedModel:
    return LoadedModel(CheckpointInfo(Path("m.safetensors"), "m.safetensors"), "test", engine)


def test_the_clip_text_seam_is_the_engines_or_an_attribute_error():
    with_clip = _loaded(_ClipEngine())
    assert with_clip.text_layers == 3
    assert with_clip.text_hidden_states(torch.zeros(1, 77, dtype=torch.long), 2).unique().item() == 2.0
    without = _loaded(_NoClipEngine())
    assert not hasattr(without, "text_layers")  # callers probing with hasattr still see no text seam
    with pytest.raises(AttributeError, match="test engine .*_NoClipEngine.* has no single CLIP text encoder"):
        without.text_hidden_states(torch.zeros(1, 77, dtype=torch.long))


@pytest.fixture(scope="module")
def sdxl_engine(tmp_path_factory):
    path = make_tiny_sdxl_checkpoint(tmp_path_factory.mktemp("xl-narrow") / "models" / "Stable-diffusion")
    paths = Paths(data_dir=path.parents[2])
    return ModelManager(paths, FP32, HashCache(paths.cache_json)).get().engine


def test_sdxl_towers_without_a_pooled_output_are_refused_by_name(sdxl_engine, monkeypatch):
    monkeypatch.setattr(sdxl_engine, "towers", sdxl_engine.towers[:1])  # CLIP-L only: no text projection
    with pytest.raises(ValueError, match="none of the SDXL text towers gives a pooled output"):
        sdxl_engine.encode_prompt(["a cat"], 1)


def test_sdxl_encode_prompt_refuses_an_option_it_does_not_take(sdxl_engine):
    with pytest.raises(TypeError, match="unexpected keyword argument 'clip_g_skip'"):
        sdxl_engine.encode_prompt(["a cat"], 1, clip_g_skip=True)
