"""Fixtures shared by the ControlNet tests."""
from __future__ import annotations

import pytest

from modules.controlnet.model import LoadedControlNet


@pytest.fixture
def hint_sizes(monkeypatch):
    """The hint sizes every ControlNet call sees, in order."""
    seen = []
    call = LoadedControlNet.__call__

    def spy(self, x, t, context, hint):
        seen.append(tuple(hint.shape[-2:]))
        return call(self, x, t, context, hint)

    monkeypatch.setattr(LoadedControlNet, "__call__", spy)
    return seen
