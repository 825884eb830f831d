"""oneDNN's fused attention (modules/models/onednn_attention.py): equal to torch's kernel within rounding, torch's
kernel itself where fusing does not pay or cannot run, and chosen only for bf16 on the CPU."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from modules.models import onednn_attention as oa

pytestmark = pytest.mark.skipif(not oa.onednn_graph_available(), reason="this torch has no oneDNN Graph fuser")


def qkv(batch=2, heads=2, queries=1024, keys=1024, head_size=40, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(batch, heads, queries, head_size, generator=gen)  # [B, H, n, d]
    k, v = (torch.randn(batch, heads, keys, head_size, generator=gen) for _ in range(2))
    return [t.to(dtype) for t in (q, k, v)]


def test_fused_equals_torch_in_float32_and_within_bf16_rounding():
    attend = oa.FusedAttention()
    q, k, v = qkv()  # 4 M scores: above MIN_SCORES, compiled
    with torch.no_grad():
        for _ in range(2):  # the first call profiles, the second runs what the fuser made of it
            out = attend(q, k, v, 40 ** -0.5)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-5)
        (compiled,) = attend.compiled.values()
        assert "oneDNNFusionGroup" in str(compiled.graph_for(q, k, v))  # the fuser made one oneDNN partition of it
        reference = F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
        q, k, v = (t.bfloat16() for t in (q, k, v))
        for _ in range(2):
            out = attend(q, k, v, 40 ** -0.5)
    assert out.dtype == torch.bfloat16
    assert (out.double() - reference).abs().max() < 0.03  # bf16 keeps 8 bits: a few 2^-8 on outputs of about 1
    assert len(attend.compiled) == 2  # one compiled function per dtype (and shape)


def test_rows_are_grouped_when_the_profiling_run_would_be_large(monkeypatch):
    monkeypatch.setattr(oa, "MAX_PROFILED_SCORES", 3 * 512 * 1024)  # 2 of the 4 rows per group
    attend = oa.FusedAttention()
    q, k, v = qkv(batch=2, heads=2)
    k, v = k[:, :, :512], v[:, :, :512]  # 1024 queries × 512 keys = 512 K scores per row
    q = q.transpose(1, 2).contiguous().transpose(1, 2)  # diffusers' layout: a [B, n, H, d] tensor seen as [B, H, n, d]
    with torch.no_grad():
        out = attend(q, k, v, 40 ** -0.5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-5)
    (key,) = attend.compiled
    assert key[2][0] == torch.Size([1, 2, 1024, 40])  # compiled for one group of 2 rows


def test_small_attention_and_autograd_keep_torch_kernel_bit_for_bit():
    attend = oa.FusedAttention()
    q, k, v = qkv(queries=64, keys=77)  # 20 K scores: below MIN_SCORES
    assert torch.equal(attend(q, k, v, 40 ** -0.5), F.scaled_dot_product_attention(q, k, v))
    q, k, v = qkv()
    q.requires_grad_(True)
    out = attend(q, k, v, 40 ** -0.5)
    assert out.requires_grad and torch.equal(out, F.scaled_dot_product_attention(q, k, v))
    assert not attend.compiled


def test_rows_too_long_for_one_profiling_run_keep_torch_kernel(monkeypatch):
    monkeypatch.setattr(oa, "MAX_PROFILED_SCORES", 1024 * 1024 - 1)
    attend = oa.FusedAttention()
    q, k, v = qkv()
    with torch.no_grad():
        assert torch.equal(attend(q, k, v, 40 ** -0.5), F.scaled_dot_product_attention(q, k, v))
    assert not attend.compiled


def attention_layer(**kwargs):
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    return Attention(query_dim=80, heads=2, dim_head=40, **kwargs).eval()


@pytest.mark.parametrize("cross", [False, True])
def test_processor_equals_diffusers_processor(cross):
    from diffusers.models.attention_processor import AttnProcessor2_0

    layer = attention_layer(cross_attention_dim=48 if cross else None)
    x = torch.randn(2, 1024, 80)  # [B, tokens, C]
    context = torch.randn(2, 600, 48) if cross else None  # [B, tokens, C]: 2.4 M scores, fused
    with torch.no_grad():
        expected = AttnProcessor2_0()(layer, x, context)
        processor = oa.OneDnnAttnProcessor()
        for _ in range(2):
            out = processor(layer, x, context)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert len(processor.attend.compiled) == 1


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_processor_equals_diffusers_processor_on_the_vae_kind_of_layer(layout):
    from diffusers.models.attention_processor import AttnProcessor2_0

    layer = attention_layer(norm_num_groups=8, residual_connection=True)  # the VAE's mid-block attention
    x = torch.randn(1, 80, 32, 32).to(memory_format=layout)  # [B, C, H, W]: 1,024 tokens, 2 M scores: fused
    processor = oa.OneDnnAttnProcessor()
    with torch.no_grad():
        expected = AttnProcessor2_0()(layer, x)
        for _ in range(2):
            out = processor(layer, x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert out.shape == x.shape and len(processor.attend.compiled) == 1


def test_bf16_rows_too_long_for_the_fused_kernel_go_to_the_blocked_one(monkeypatch):
    from modules.models import blocked_attention as ba

    monkeypatch.setattr(oa, "MAX_PROFILED_SCORES", 1024 * 1024 - 1)  # as the VAE's 16,384 tokens at 1024²
    attend = oa.FusedAttention()
    q, k, v = qkv(batch=1, head_size=512, dtype=torch.bfloat16)  # 1,024 keys at head size 512: not `pays`
    with torch.no_grad():
        assert torch.equal(attend(q, k, v, 512 ** -0.5), ba.blocked_attention(q, k, v, 512 ** -0.5))
        q, k, v = qkv(batch=1, queries=1024, keys=77, dtype=torch.bfloat16)  # a prompt's keys: torch's kernel
        assert torch.equal(attend(q, k, v, 40 ** -0.5), F.scaled_dot_product_attention(q, k, v, scale=40 ** -0.5))
    assert not attend.compiled


@pytest.mark.parametrize("flags, expected", [(["--precision", "half"], "OneDnnAttnProcessor"),
                                             (["--precision", "half", "--opt-sdp-attention"], "AttnProcessor2_0"),
                                             (["--precision", "full"], "AttnProcessor2_0")])
def test_a_bf16_cpu_unet_gets_the_processor_unless_told_otherwise(tiny_checkpoint: Path, tmp_path, flags, expected,
                                                                  monkeypatch):
    import webui
    from modules import cli
    from modules.models import devices

    zen4 = devices.HardwareFacts(cpu_flags=frozenset({"avx512_bf16"}), onednn_graph=True)
    monkeypatch.setattr(devices, "detect_hardware", lambda: zen4)  # the choice as on a CPU with native bf16

    app = webui.build_app(cli.parse_args(["--data-dir", str(tmp_path), "--ckpt", str(tiny_checkpoint),
                                          "--no-hashing", *flags], env={}))
    model = app.models.get(None)
    assert {type(p).__name__ for p in model.unet.attn_processors.values()} == {expected}
    assert {type(p).__name__ for p in model.vae.attn_processors.values()} == {expected}  # the VAE runs in bf16 too
    processors = [*model.unet.attn_processors.values(), *model.vae.attn_processors.values()]
    assert expected != "OneDnnAttnProcessor" or len({id(p) for p in processors}) == 1  # one cache for both
    torch.manual_seed(1)
    x, context, t = torch.randn(2, 4, 8, 8), torch.randn(2, 77, 32), torch.tensor([500.0, 20.0])
    out, image = model.unet_forward(x, t, context), model.decode(x[:1])
    from diffusers.models.attention_processor import AttnProcessor2_0

    model.unet.set_attn_processor(AttnProcessor2_0())
    model.vae.set_attn_processor(AttnProcessor2_0())
    assert torch.equal(out, model.unet_forward(x, t, context))  # a tiny UNet's attentions are all below MIN_SCORES
    assert torch.equal(image, model.decode(x[:1]))  # and so are its VAE's


def test_a_failing_fuser_falls_back_to_torch_kernel_for_good(monkeypatch, caplog):
    def broken(scale):
        raise RuntimeError("no LLGA here")

    monkeypatch.setattr(oa, "_scripted", broken)
    attend = oa.FusedAttention()
    q, k, v = qkv()
    with torch.no_grad():
        assert torch.equal(attend(q, k, v, 40 ** -0.5), F.scaled_dot_product_attention(q, k, v))
    assert "no LLGA here" in attend.disabled and "torch's attention kernel" in caplog.text


def test_the_first_call_of_a_shape_equals_the_later_ones_bit_for_bit():
    """TorchScript's profiling run computes unfused; a seed must give the same picture on the first job too."""
    attend = oa.FusedAttention()
    q, k, v = qkv(dtype=torch.bfloat16)
    with torch.no_grad():
        first = attend(q, k, v, 40 ** -0.5)
        assert torch.equal(first, attend(q, k, v, 40 ** -0.5))
