"""A small LRU cache of encoded prompts, owned by whoever encodes (one per App), never a module global.

A1111 re-encodes only when the prompt, the model, clip skip or the emphasis mode changed; keying on all of them
(plus the comma-backtrack setting, which changes chunking) makes a hit always safe.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # stores tensors but computes none: the App builds it before torch loads (docs/architecture.md §4)
    import torch


@dataclass(frozen=True)
class ConditioningKey:
    model_hash: str
    text: str
    clip_skip: int
    emphasis: str
    comma_backtrack: int


class ConditioningCache:
    """Least-recently-used map ConditioningKey → tensor [1, 77*k, C]. Call `clear()` when weights change in place."""

    def __init__(self, max_entries: int = 64):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[ConditioningKey, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ConditioningKey) -> torch.Tensor | None:
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: ConditioningKey, value: torch.Tensor) -> None:
        self._entries[key] = value.detach()
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get_or_compute(self, key: ConditioningKey, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def drop_model(self, model_hash: str) -> None:
        """Forget every entry of one model (it was unloaded or its weights were patched)."""
        for key in [k for k in self._entries if k.model_hash == model_hash]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()
