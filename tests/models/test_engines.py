"""The family table and its engines: every row is well formed, and a family that exists only in this test (one
engine class + one table row) is picked by its probe and runs through txt2img without any pipeline file knowing
about it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from modules.conditioning.types import Conditioning
from modules.errors import ModelLoadError
from modules.models.engines.base import Engine, has_prefix
from modules.models.engines.sd1 import SD1Engine
from modules.models.families import FAMILIES, Family, detect_family, supported_labels
from modules.models.manager import ModelManager
from modules.paths import INSTALL_DIR
from modules.pipeline.conditioning_service import PromptConditioning
from modules.pipeline.request import GenerationRequest
from tests.pipeline.conftest import make_app

MARKER = "easel_test_family.marker"
REQUEST = dict(prompt="a red circle", negative_prompt="", steps=4, width=64, height=64, seed=3,
               sampler_name="Euler", cfg_scale=7.0)


def test_every_row_is_well_formed():
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    for family in FAMILIES:
        if family.supported:
            assert issubclass(family.engine, Engine)
            assert (INSTALL_DIR / "configs" / family.default_config).is_file(), family.name
        else:
            assert family.default_config is None
    assert supported_labels() == "SD 1.x, SD 1.x inpainting, SD 2.x, SDXL, SDXL inpainting, SDXL refiner"


def test_rows_are_tried_in_order():
    sd1 = {"model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
           "cond_stage_model.transformer.x": (1,)}
    assert detect_family(sd1, "m.safetensors").name == "sd1"
    first = Family("first", "First", lambda s: True, SD1Engine, "v1-inference.yaml")
    assert detect_family(sd1, "m.safetensors", (first, *FAMILIES)) is first
    refused = Family("later", "Later family", lambda s: True, None, None)
    with pytest.raises(ModelLoadError, match=r"m\.safetensors: Later family checkpoints are not supported yet"):
        detect_family(sd1, "m.safetensors", (refused, *FAMILIES))


class ShiftedEngine(SD1Engine):
    """A made-up family: SD 1.x networks, but a latent shift and a pooled text output the UNet is handed."""

    latent_shift = 0.25

    def encode_prompt(self, texts, clip_skip, **options):
        plain = super().encode_prompt(texts, clip_skip, **options)
        return [Conditioning(c.cross_attn, pooled=c.cross_attn[:, 0] * 2) for c in plain]  # pooled [1, C]

    def unet_kwargs(self, cond):
        self.seen.append(cond)
        return {}

    seen: list


SHIFTED = Family("shifted", "Shifted test family", lambda s: has_prefix(s, MARKER), ShiftedEngine,
                 "v1-inference.yaml")


@pytest.fixture
def marked_checkpoint(tmp_path, tiny_checkpoint):
    """The tiny checkpoint with one extra key the test family's probe looks for (its yaml beside it)."""
    folder = tmp_path / "src"
    folder.mkdir()
    state = load_file(tiny_checkpoint)
    save_file({**state, MARKER: torch.zeros(1)}, folder / tiny_checkpoint.name)
    (folder / tiny_checkpoint.with_suffix(".yaml").name).write_text(tiny_checkpoint.with_suffix(".yaml").read_text())
    return folder / tiny_checkpoint.name


def with_families(app, families):
    """The app with a ModelManager over another family table (what webui.py would build with that table)."""
    old = app.services.models
    models = ModelManager(app.paths, old.device_config, old.hash_cache, families=families)
    app.services = dataclasses.replace(app.services, models=models,
                                       conditioning=PromptConditioning(app.services.embeddings, models))
    return app


def test_a_family_added_as_one_engine_and_one_row_runs_txt2img(tmp_path, marked_checkpoint):
    ShiftedEngine.seen = []
    plain_app = make_app(tmp_path / "plain", marked_checkpoint, "--precision", "full")
    plain = np.asarray(plain_app.txt2img(GenerationRequest(**REQUEST)).images[0])
    assert plain_app.models.current.family == "sd1"

    app = with_families(make_app(tmp_path / "shifted", marked_checkpoint, "--precision", "full"),
                        (SHIFTED, *FAMILIES))
    image = np.asarray(app.txt2img(GenerationRequest(**REQUEST)).images[0])
    model = app.models.current
    assert model.family == "shifted" and type(model.engine) is ShiftedEngine
    # Every UNet call got the family's pooled output, cond and uncond rows alike (exact batches: the image's cond and
    # uncond rows in one call per step).
    assert len(ShiftedEngine.seen) == REQUEST["steps"]
    assert all(c.pooled is not None and c.pooled.shape == (2, c.cross_attn.shape[-1]) for c in ShiftedEngine.seen)
    # The latent shift is the engine's own: decoding adds it after undoing the scale.
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = model.vae.decode(latents / model.latent_scale + 0.25, return_dict=False)[0]  # [1, 3, 64, 64]
    torch.testing.assert_close(model.decode(latents), ((raw + 1) / 2).clamp(0, 1))
    assert not np.array_equal(plain, image)


def test_a1111_model_flags_come_from_the_engine():
    from types import SimpleNamespace

    from modules.extensions.compat.sd_model_view import ModelView

    assert SD1Engine.a1111_flags["is_sd1"] and not SD1Engine.a1111_flags["is_sdxl"]
    xl_like = SimpleNamespace(engine=SimpleNamespace(a1111_flags={"is_sdxl": True}), latent_channels=4)
    view = ModelView(xl_like, None)
    assert view.is_sdxl and not view.is_sd1 and not view.is_sd2
    unloaded = ModelView(None, None)
    assert unloaded.is_sd1 and not unloaded.is_sdxl and unloaded.latent_channels == 4
