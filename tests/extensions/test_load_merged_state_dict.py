"""`sd_models.load_model(info, already_loaded_state_dict=…)`: a merge an extension holds in memory (as
sd-webui-supermerger makes) becomes the model generations use, named by the info the extension renamed, and it
stays loaded while its source file is the one selected, as A1111 compares file names before reloading."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

MERGED_SHA = "ab" * 32
REQUEST = dict(prompt="a red circle", steps=2, width=64, height=64, seed=3)


@pytest.fixture
def bound(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


def test_state_dict_in_memory_becomes_the_model(bound):
    from modules.extensions.compat import sd_models, shared

    before = bound.txt2img(GenerationRequest(**REQUEST))
    info = sd_models.select_checkpoint()
    tensors = sd_models.read_state_dict(info.filename)
    merged = {k: v * 0.5 if k.startswith("model.diffusion_model.out.") else v for k, v in tensors.items()}
    kept = {k: v.clone() for k, v in merged.items()}
    renamed = copy.deepcopy(info)
    renamed.name, renamed.sha256 = "merged.safetensors", MERGED_SHA

    sd_models.load_model(renamed, already_loaded_state_dict=merged)

    assert shared.sd_model.sd_checkpoint_info.title == f"merged.safetensors [{MERGED_SHA[:10]}]"
    assert all((merged[k] == kept[k]).all() for k in kept)  # the extension's dict is left as it was
    after = bound.txt2img(GenerationRequest(**REQUEST))  # the setting still names the source file: no reload
    assert f"Model hash: {MERGED_SHA[:10]}" in after.infotexts[0] and "Model: merged," in after.infotexts[0]
    assert not np.array_equal(np.asarray(before.images[0]), np.asarray(after.images[0]))


def test_the_source_file_loads_again_when_reloaded(bound):
    from modules.extensions.compat import sd_models, shared

    info = sd_models.select_checkpoint()
    renamed = copy.deepcopy(info)
    renamed.name, renamed.sha256 = "merged.safetensors", MERGED_SHA
    sd_models.load_model(renamed, already_loaded_state_dict=sd_models.read_state_dict(info.filename))
    sd_models.reload_model_weights(info=info, forced_reload=True)
    assert shared.sd_model.sd_checkpoint_info.name == info.name
