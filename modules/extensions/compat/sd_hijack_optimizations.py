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
