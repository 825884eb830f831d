"""The App's prompt-conditioning service: the encoded-prompt cache plus what else decides what a text means.

Apart from `prompting` (the encoding, which needs torch) so that the App is built before torch
loads (docs/architecture.md §4).
"""
from __future__ import annotations

from modules.conditioning.cache import ConditioningCache


class PromptConditioning(ConditioningCache):
    """The App's conditioning service: the cache plus what else decides what a text means, so that every caller
    of `step_conditioning` gets textual inversion and a cache key that changes while LoRA patches the text encoder.

    `embeddings`: an EmbeddingDatabase (or None); `models`: the ModelManager (`text_weights_key(model)`).
    """

    def __init__(self, embeddings=None, models=None, max_entries: int = 64):
        super().__init__(max_entries)
        self.embeddings = embeddings
        self.models = models

    def text_weights_key(self, model) -> str:
        return self.models.text_weights_key(model) if self.models is not None else ""

    def embeddings_for(self, model):
        """The database loaded for this model's CLIP ViT-L slot (re-read only when the folder changed); None for
        a model without one (the SDXL refiner has OpenCLIP bigG alone)."""
        slot = model.text_slots().get("clip_l")
        if self.embeddings is None or slot is None:
            return None
        return self.embeddings.load_for(slot.hidden_size, slot.tokenizer)
