"""A1111's view of a loaded embedding (modules/extensions/compat/textual_inversion.py): an SDXL file's `vec` is a
dict by text encoder, as A1111 keeps it (extensions such as embedding-inspector index `vec["clip_g"]`)."""
from __future__ import annotations

import torch

from modules.conditioning.embeddings import Embedding as CoreEmbedding
from modules.extensions.compat.textual_inversion import Embedding


def test_an_sd1_embedding_keeps_its_tensor():
    core = CoreEmbedding(name="grain", vec=torch.ones(3, 768), step=12)
    view = Embedding.of(core)
    assert isinstance(view.vec, torch.Tensor) and view.vec.shape == (3, 768)
    assert (view.name, view.step, view.shape, view.vectors) == ("grain", 12, 768, 3)


def test_an_sdxl_embedding_is_a_dict_by_encoder_with_the_widths_summed():
    per_slot = {"clip_l": torch.zeros(2, 768), "clip_g": torch.ones(2, 1280)}
    core = CoreEmbedding(name="xl", vec=torch.cat([per_slot["clip_l"], per_slot["clip_g"]], dim=1), per_slot=per_slot)
    view = Embedding.of(core)
    assert isinstance(view.vec, dict) and set(view.vec) == {"clip_l", "clip_g"}
    assert view.vec["clip_g"].shape == (2, 1280) and bool(view.vec["clip_g"].eq(1).all())
    assert (view.shape, view.vectors) == (768 + 1280, 2)


def test_an_extension_can_make_one_from_a_tensor():
    made = Embedding(torch.zeros(4, 768), "made")
    assert (made.shape, made.vectors, made.filename) == (768, 4, None)
