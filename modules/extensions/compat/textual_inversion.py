"""A1111's `modules.textual_inversion.textual_inversion`: the embeddings Easel loaded (modules/conditioning/
embedding_db.py) as A1111's `EmbeddingDatabase` view (`word_embeddings`, `skipped_embeddings`), and its
`Embedding` class for extensions that make one from a tensor."""
from __future__ import annotations

from typing import Any

from modules.extensions.compat import binding


class Embedding:
    """A1111's embedding: `vec` [n, C], `name`, `step`, with `shape` (C) and `vectors` (n). An SDXL file's `vec` is
    a dict by text encoder ({"clip_l": [n, 768], "clip_g": [n, 1280]}) and `shape` the widths summed, as A1111's."""

    def __init__(self, vec, name: str, step=None):
        self.vec, self.name, self.step = vec, name, step
        sets = list(vec.values()) if isinstance(vec, dict) else [vec] if vec is not None else []
        self.shape = sum(int(t.shape[-1]) for t in sets) if sets else None
        self.vectors = int(sets[0].shape[0]) if sets and sets[0].ndim > 1 else 1
        self.cached_checksum = None
        self.sd_checkpoint = self.sd_checkpoint_name = None
        self.optimizer_state_dict = None
        self.filename = None
        self.hash = self.shorthash = None

    @classmethod
    def of(cls, core) -> Embedding:
        """The view of one of Easel's loaded embeddings."""
        view = cls(dict(core.per_slot) if core.per_slot else core.vec, core.name, core.step)
        view.sd_checkpoint, view.sd_checkpoint_name = core.sd_checkpoint, core.sd_checkpoint_name
        view.filename = str(core.path) if core.path else None
        return view


class EmbeddingDatabase:
    """A1111's database of embeddings, read from the App's (loaded for the current model's text encoder)."""

    def _core(self):
        return binding.app().services.embeddings

    def _table(self, name: str) -> dict[str, Embedding]:
        core = self._core()
        return {} if core is None else {n: Embedding.of(e) for n, e in getattr(core, name, {}).items()}

    @property
    def word_embeddings(self) -> dict[str, Embedding]:
        return self._table("loaded")

    @property
    def skipped_embeddings(self) -> dict[str, Embedding]:
        return self._table("skipped")

    @property
    def embedding_dirs(self) -> dict[str, Any]:
        core = self._core()
        return {} if core is None else {str(f): f for f in core.folders}

    def load_textual_inversion_embeddings(self, force_reload: bool = False, sync_with_sd_model: bool = True):
        """Read the embeddings folder again (it is re-read by the next generation that needs it)."""
        core = self._core()
        if core is not None and force_reload:
            core.refresh()

    def find_embedding_at_position(self, tokens, offset):
        core = self._core()
        found, length = core.find_embedding_at_position(tokens, offset) if core is not None else (None, None)
        return (Embedding.of(found) if found is not None else None), length
