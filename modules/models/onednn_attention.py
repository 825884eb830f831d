"""Attention through oneDNN Graph's fused scaled-dot-product kernel, for bf16 on the CPU.

PyTorch's own CPU flash-attention kernel spends most of a bf16 call on its softmax: at 4,096 tokens and head size 40
(SD 1.5's first level) it reaches 66 GFLOP/s while the UNet's matrix products run at 200 (docs/performance.md).
oneDNN's fused SDPA kernel does the same work 1.2× faster there, and 2× faster at 1,024 tokens and in
cross-attention; one SD 1.5 UNet call at 512² with CFG goes from 11.0 s to 9.8 s (bench/exact_path.py, one thread,
AVX512-BF16). PyTorch reaches that kernel only through TorchScript's oneDNN Graph fuser
(`torch.jit.enable_onednn_fusion`): `FusedAttention` compiles softmax(q·kᵀ·scale)·v as a TorchScript function per
shape, and the fuser turns what TorchScript profiled of it into one oneDNN partition. In float32 the fused kernel is
slower at 4,096 tokens, so it is used for bf16 only (modules/models/devices.py decides). Self-attention over many
keys (2,048 and more at SD 1.5's head size) goes to the blocked kernel instead, which beats both there
(modules/models/blocked_attention.py).

Costs, and how they are bounded:
- TorchScript profiles the first call of a shape, computing it unfused, which would round differently from the
  fused calls after it (a seed must give the same picture every time): that run's result is thrown away and the
  call made again. It materialises the whole score matrix once: rows of batch × heads are grouped so that one
  group's scores stay under `MAX_PROFILED_SCORES`;
- small attentions (under `MIN_SCORES` scores: tiny models, the built-in model) keep torch's kernel, where compiling
  would cost more than it saves;
- with autograd recording (training), masks or dropout, torch's kernel runs: the fused partition has no backward;
- a bf16 attention the fused kernel cannot take (rows too long to profile, a failed fuser) goes to the blocked
  kernel when it has 1,024 keys or more, where that beats torch's (the VAE's 16,384 tokens at 1024²: 1.66×).
"""
from __future__ import annotations

import logging
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F

from modules.models import blocked_attention as blocked

log = logging.getLogger(__name__)

MIN_SCORES = 2 ** 20  # batch·heads·queries·keys below this: torch's kernel (compiling would not pay)
MAX_PROFILED_SCORES = 2 ** 27  # scores of one group in the unfused profiling run: 256 MiB in bf16
MAX_COMPILED = 64  # shapes kept; HyperTile, token merging and prompt lengths make a handful per image size

Attend = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def onednn_graph_available() -> bool:
    """Whether this torch can fuse through oneDNN Graph (a CPU build with mkldnn and TorchScript's LLGA pass)."""
    return hasattr(torch.jit, "enable_onednn_fusion") and torch.backends.mkldnn.is_available()


def group_size(rows: int, queries: int, keys: int, limit: int) -> int | None:
    """The largest divisor g of `rows` (batch × heads) whose g·queries·keys scores fit `limit`; None if one row
    does not.

    >>> [group_size(16, n, n, MAX_PROFILED_SCORES) for n in (4096, 9216, 16384)]
    [8, 1, None]
    """
    per_row = queries * keys
    return None if per_row > limit else blocked.largest_divisor(rows, limit // per_row)


ATTENTION_SOURCE = """
def attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return torch.matmul((torch.matmul(q, k.transpose(-2, -1)) * {scale!r}).softmax(-1), v)
"""  # [..., queries, head size]: softmax over keys of the scaled scores, times the values


def profiled_runs() -> int:
    """How many calls TorchScript's profiling executor makes before it optimises (1 in torch 2.x)."""
    runs = getattr(torch._C, "_jit_get_num_profiled_runs", None)  # not in torch's type stubs
    return int(runs()) if callable(runs) else 1


def _scripted(scale: float) -> Attend:
    """A new TorchScript function (its own executor, so its own profile) with `scale` as a constant. Scripting, not
    tracing: a trace would run the unfused attention once more to record it."""
    with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.compile, which lacks this kernel
        warnings.simplefilter("ignore")
        return torch.jit.CompilationUnit(ATTENTION_SOURCE.format(scale=float(scale))).attention


class FusedAttention:
    """softmax(q·kᵀ·scale)·v for [batch, heads, tokens, head size] tensors: blocked for many keys, fused where that
    pays, torch's kernel otherwise (module docstring).

    Owns the compiled functions, keyed by everything TorchScript specialises on (shapes, strides, dtype) and the
    scale; the least recently used are dropped beyond `MAX_COMPILED`."""

    def __init__(self) -> None:
        torch.jit.enable_onednn_fusion(True)  # process-wide: TorchScript's LLGA pass (only TorchScript uses it)
        self.compiled: OrderedDict[tuple, Attend] = OrderedDict()
        self.lock = threading.Lock()
        self.disabled = ""  # why the fused path failed once, if it did

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        batch, heads, queries, _ = q.shape
        keys = k.shape[2]
        recording = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
        small = batch * heads * queries * keys < MIN_SCORES
        if recording or small or q.device.type != "cpu":
            return F.scaled_dot_product_attention(q, k, v, scale=scale)
        if blocked.pays(keys, q.shape[3], q.dtype):  # many keys: faster than the fused kernel, no compiling
            return blocked.blocked_attention(q, k, v, scale)
        g = group_size(batch * heads, queries, keys, MAX_PROFILED_SCORES)
        if not self.disabled and g is not None:
            try:
                return self._fused(q, k, v, scale, g)
            except Exception as error:  # a torch whose TorchScript fails here: no fused kernel from now on
                self.disabled = f"{type(error).__name__}: {error}"
                log.warning("oneDNN fused attention failed (%s); using torch's attention kernel (the blocked one "
                            "for bf16 from 1,024 keys)", self.disabled)
        if blocked.beats_torch(keys, q.dtype):  # no fused kernel: blocked still beats torch's from 1,024 keys
            return blocked.blocked_attention(q, k, v, scale)
        return F.scaled_dot_product_attention(q, k, v, scale=scale)

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, g: int) -> torch.Tensor:
        batch, heads, queries, _ = q.shape
        if g == batch * heads:
            return self._function(q, k, v, scale)(q, k, v)
        rows = [t.reshape(batch * heads // g, g, t.shape[2], t.shape[3]) for t in (q, k, v)]  # [groups, g, n, d]
        fn = self._function(rows[0][0:1], rows[1][0:1], rows[2][0:1], scale)
        out = torch.cat([fn(rows[0][i:i + 1], rows[1][i:i + 1], rows[2][i:i + 1]) for i in range(len(rows[0]))])
        return out.reshape(batch, heads, queries, v.shape[3])  # [B, H, queries, head size]

    def _function(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> Attend:
        key = (q.dtype, scale) + tuple((t.shape, t.stride()) for t in (q, k, v))
        with self.lock:  # two jobs may share a UNet (cluster slots in one process)
            fn = self.compiled.get(key)
            if fn is None:
                fn = _scripted(scale)
                for _ in range(profiled_runs()):
                    fn(q, k, v)  # profiling runs compute unfused: their results would differ in the last bits
                self.compiled[key] = fn
                while len(self.compiled) > MAX_COMPILED:
                    self.compiled.popitem(last=False)
            else:
                self.compiled.move_to_end(key)
        return fn


class OneDnnAttnProcessor:
    """A diffusers attention processor doing what `AttnProcessor2_0` does, with `FusedAttention` as the kernel.

    It serves the UNet's layers and the VAE's (group norm over a [B, C, H, W] input, residual); layers with parts
    neither uses (spatial norm, masks, q/k norms, cross norms) go to diffusers' own processor unchanged."""

    def __init__(self, attend: FusedAttention | None = None) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.attend = attend or FusedAttention()
        self.stock = AttnProcessor2_0()

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args, **kwargs):
        unusual = (attn.spatial_norm is not None or attention_mask is not None or attn.norm_q is not None
                   or attn.norm_k is not None or hidden_states.ndim not in (3, 4)
                   or (encoder_hidden_states is not None and attn.norm_cross))
        if unusual or args or kwargs:
            return self.stock(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        residual, image_shape = hidden_states, hidden_states.shape if hidden_states.ndim == 4 else None
        if image_shape is not None:  # the VAE's layer: [B, C, H, W] → [B, H·W, C]
            hidden_states = hidden_states.flatten(2).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        batch = hidden_states.shape[0]
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)  # [B, tokens, inner]
        head_size = k.shape[-1] // attn.heads
        q, k, v = (t.view(batch, -1, attn.heads, head_size).transpose(1, 2) for t in (q, k, v))  # [B, H, n, d]
        out = self.attend(q, k, v, 1 / math.sqrt(head_size))  # torch's default scale, as AttnProcessor2_0 uses
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_size).to(q.dtype)  # [B, queries, inner]
        out = attn.to_out[1](attn.to_out[0](out))  # projection, dropout
        if image_shape is not None:
            out = out.transpose(1, 2).reshape(image_shape)  # [B, C, H, W]
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor
