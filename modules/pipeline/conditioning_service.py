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
        """The database loaded for this model's text encoders (files re-read only when they changed): SD 1.x and
        2.x take one-set files of their width, SDXL files with clip_l and clip_g sets, the refiner (bigG alone)
        one-set files 1280 wide."""
        if self.embeddings is None or not model.text_slots():
            return None
        return self.embeddings.load_for_model(model)
