"""Blocked attention (modules/models/blocked_attention.py): standard attention within float rounding whatever the
blocks and row groups, and chosen by the bf16 CPU processor's kernel only where it was measured to pay."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from modules.models import blocked_attention as ba
from modules.models import onednn_attention as oa


def qkv(batch=2, heads=3, queries=300, keys=500, head_size=40, value_size=40, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(batch, queries, heads, head_size, generator=gen).transpose(1, 2)  # [B, H, n, d], diffusers' view
    k = torch.randn(batch, keys, heads, head_size, generator=gen).transpose(1, 2)
    v = torch.randn(batch, keys, heads, value_size, generator=gen).transpose(1, 2)
    return [t.to(dtype) for t in (q, k, v)]


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("shape", [dict(), dict(queries=64, keys=64, head_size=8, value_size=16),
                                   dict(batch=1, heads=1, queries=1000, keys=2048, head_size=64)])
def test_equals_torch_attention_in_float32(shape, threads):
    q, k, v = qkv(**shape)
    out = ba.blocked_attention(q, k, v, 0.3, threads=threads)  # 300 queries: a last block shorter than the others
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), rtol=1e-5, atol=1e-5)
    assert out.shape == (q.shape[0], q.shape[1], q.shape[2], v.shape[3])


def test_bf16_is_within_the_rounding_of_torch_bf16_kernel():
    q, k, v = qkv(queries=1024, keys=2048)
    reference = F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
    q, k, v = (t.bfloat16() for t in (q, k, v))
    out = ba.blocked_attention(q, k, v, 40 ** -0.5)
    torch_error = (F.scaled_dot_product_attention(q, k, v).double() - reference).abs().max()
    assert out.dtype == torch.bfloat16
    assert (out.double() - reference).abs().max() < max(4 * torch_error, 2 ** -7)  # probabilities kept in 8 bits


def test_a_row_does_not_depend_on_the_other_rows_on_one_thread():
    """Exact batches: an image's rows must come out the same whatever else shares the call."""
    q, k, v = qkv(batch=2, queries=256, keys=2048, dtype=torch.bfloat16)
    both = ba.blocked_attention(q, k, v, 0.2, threads=1)
    alone = ba.blocked_attention(q[1:], k[1:], v[1:], 0.2, threads=1)
    assert torch.equal(both[1:], alone)


def test_the_bf16_processor_kernel_uses_it_only_where_it_pays():
    attend = oa.FusedAttention()
    q, k, v = qkv(batch=1, heads=2, queries=2048, keys=2048, dtype=torch.bfloat16)
    with torch.no_grad():
        out = attend(q, k, v, 40 ** -0.5)
        assert torch.equal(out, ba.blocked_attention(q, k, v, 40 ** -0.5))
        assert not attend.compiled  # nothing for TorchScript to compile
        if oa.onednn_graph_available():
            for few_keys in (qkv(batch=1, heads=2, queries=2048, keys=1024, dtype=torch.bfloat16),  # fused: faster
                             [t.float() for t in (q, k, v)]):  # float32: torch's or oneDNN's kernel
                attend(*few_keys, 40 ** -0.5)
            assert len(attend.compiled) == 2
    q.requires_grad_(True)
    assert torch.equal(attend(q, k, v, 40 ** -0.5), F.scaled_dot_product_attention(q, k, v))  # no autograd path


def test_blocked_runs_when_the_fuser_has_failed():
    attend = oa.FusedAttention()
    attend.disabled = "RuntimeError: no LLGA here"
    q, k, v = qkv(batch=1, heads=2, queries=512, keys=4096, dtype=torch.bfloat16)
    with torch.no_grad():
        assert torch.equal(attend(q, k, v, 40 ** -0.5), ba.blocked_attention(q, k, v, 40 ** -0.5))
