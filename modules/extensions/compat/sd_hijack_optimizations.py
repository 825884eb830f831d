"""A1111's `modules.sd_hijack_optimizations`: free VRAM and the xformers op extensions ask for. Easel's attention
is torch's scaled-dot-product (or xformers with --xformers), chosen at model load."""
from __future__ import annotations


def get_available_vram() -> int:
    """Free memory in bytes on the GPU (with what torch caches), or the machine's available RAM on a CPU."""
    import torch

    if torch.cuda.is_available():
        stats = torch.cuda.memory_stats()
        free, _ = torch.cuda.mem_get_info()
        return free + stats["reserved_bytes.all.current"] - stats["active_bytes.all.current"]
    import psutil

    return psutil.virtual_memory().available


def get_xformers_flash_attention_op(q, k, v):
    """None: let xformers choose its kernel (A1111 returns None unless a setting asks for flash attention)."""
    return None


def sub_quad_attention(q, k, v, q_chunk_size: int = 1024, kv_chunk_size: int | None = None,
                       kv_chunk_size_min: int | None = None, chunk_threshold: int | None = None,
                       use_checkpoint: bool = True):
    """softmax(q kᵀ / √d) v for q [B, Nq, d], k, v [B, Nk, d] → [B, Nq, d], the queries `q_chunk_size` at a time
    (A1111's memory-saving attention, which extensions call on their own tensors). Each chunk of queries meets all
    keys in one call of torch's scaled-dot-product kernel, which bounds its own memory: the key-chunk sizes and
    the threshold A1111 also took change nothing here, and there is no gradient to checkpoint."""
    import torch

    chunk = max(int(q_chunk_size or q.shape[1]), 1)
    parts = [torch.nn.functional.scaled_dot_product_attention(q[:, i:i + chunk], k, v)  # [B, chunk, d]
             for i in range(0, q.shape[1], chunk)]
    return torch.cat(parts, dim=1)
