"""`ldm.modules.attention`'s feed-forward blocks are real: a network an extension builds from them (a motion
module) has ldm's parameter names, so its weight file loads, and runs; the attention classes say why they are
absent."""
from __future__ import annotations

import importlib

import pytest
import torch

from modules.extensions.compat import install_aliases


@pytest.fixture(scope="module")
def attention():
    install_aliases()
    return importlib.import_module("ldm.modules.attention")


def test_feed_forward_has_ldm_parameter_names(attention):
    gelu = attention.FeedForward(8, mult=2)
    glu = attention.FeedForward(8, dim_out=4, glu=True)
    assert {k: tuple(v.shape) for k, v in gelu.state_dict().items()} == {
        "net.0.0.weight": (16, 8), "net.0.0.bias": (16,), "net.2.weight": (8, 16), "net.2.bias": (8,)}
    assert {k: tuple(v.shape) for k, v in glu.state_dict().items()} == {
        "net.0.proj.weight": (64, 8), "net.0.proj.bias": (64,), "net.2.weight": (4, 32), "net.2.bias": (4,)}


def test_feed_forward_runs_and_gates(attention):
    glu = attention.FeedForward(8, dim_out=4, glu=True).eval()
    x = torch.randn(2, 3, 8)  # [batch, tokens, dim]
    assert glu(x).shape == (2, 3, 4)
    with torch.no_grad():  # a gate of zeros (GELU(0) = 0) closes every unit: only the last bias is left
        glu.net[0].proj.weight[32:].zero_()
        glu.net[0].proj.bias[32:].zero_()
    assert torch.allclose(glu(x), glu.net[2].bias.expand(2, 3, 4))


def test_attention_classes_are_absent_with_a_reason(attention):
    with pytest.raises(AttributeError, match="diffusers classes"):
        _ = attention.CrossAttention
    assert attention.default(None, lambda: 3) == 3 and attention.exists(0)
