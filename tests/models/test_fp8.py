"""FP8 weight storage (A1111's "FP8 weight"): layers keep FP8 weights and compute exactly as a layer holding the
rounded weights, keep their identity for lookups, and the setting picks the storage per family."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from modules.errors import InvalidInput
from modules.models.channels_last import PointwiseConv2d
from modules.models.fp8 import FP8, is_fp8, lora_base, store_fp8
from modules.models.weight_storage import FULL_WEIGHTS, Fp8Setting, WeightStorage


def network(dtype=torch.float32) -> nn.Sequential:
    torch.manual_seed(0)
    pointwise = nn.Conv2d(6, 6, 1)
    pointwise.__class__ = PointwiseConv2d
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), pointwise, nn.GroupNorm(2, 6), nn.Flatten(),
                        nn.Linear(6 * 8 * 8, 5))
    return net.to(dtype).to(memory_format=torch.channels_last).eval()


def rounded(net: nn.Module) -> nn.Module:
    """The same network with every Linear/Conv weight and bias rounded through FP8 and kept at full width."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                for p in (m.weight, m.bias):  # every layer here has a bias
                    assert p is not None
                    p.copy_(p.to(FP8).to(p.dtype))
    return net


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fp8_layers_compute_as_the_rounded_weights(dtype):
    x = torch.randn(2, 3, 8, 8).to(dtype).contiguous(memory_format=torch.channels_last)
    net, reference = network(dtype), rounded(network(dtype))
    assert store_fp8(net) == 3
    with torch.no_grad():
        out, expected = net(x), reference(x)
    assert torch.equal(out, expected) and out.dtype == dtype
    assert all(m.weight.dtype == FP8 and m.bias.dtype == FP8 for m in net.modules() if is_fp8(m))
    assert isinstance(net[0], nn.Conv2d) and isinstance(net[1], PointwiseConv2d) and isinstance(net[4], nn.Linear)
    assert net[2].weight.dtype == dtype  # norms stay as they were


def test_lora_copy_keeps_the_weight_as_loaded_outside_the_state_dict():
    net, original = network(torch.bfloat16), network(torch.bfloat16)
    keys = set(net.state_dict())
    store_fp8(net, lora_copy=True)
    assert set(net.state_dict()) == keys  # a file saved from it has the same keys
    assert torch.equal(net[4].lora_base, original[4].weight)
    assert torch.equal(lora_base(net[4]), original[4].weight.float())
    plain = network(torch.float32)
    store_fp8(plain)
    assert torch.equal(lora_base(plain[4]), plain[4].weight.float())  # no copy: the FP8 weight widened
    half = network(torch.float32)
    store_fp8(half, lora_copy=True)
    assert half[4].lora_base.dtype == torch.float16  # a float32 model keeps an fp16 copy, as A1111


def test_fp8_halves_the_memory_of_16_bit_layers():
    net = network(torch.bfloat16)
    before = sum(p.numel() * p.element_size() for p in net.parameters())
    store_fp8(net)
    after = sum(p.numel() * p.element_size() for p in net.parameters())
    norm = sum(p.numel() * p.element_size() for p in net[2].parameters())
    assert after - norm == (before - norm) // 2


@pytest.mark.parametrize("mode, sdxl, expected", [
    ("Disable", True, FULL_WEIGHTS), ("Enable for SDXL", False, FULL_WEIGHTS),
    ("Enable for SDXL", True, WeightStorage(True)), ("Enable", False, WeightStorage(True))])
def test_the_mode_picks_the_storage_per_family(mode, sdxl, expected):
    assert Fp8Setting(mode).storage_for(sdxl) == expected


def test_an_unknown_mode_is_refused_naming_the_setting():
    with pytest.raises(InvalidInput, match="fp8_storage.*Enable for SDXL"):
        Fp8Setting("Sometimes")
