"""A1111's `modules.sd_samplers_cfg_denoiser`: the condition-batch helpers extensions call on the conds they get in
on_cfg_denoiser (a tensor [N, T, C], or for SDXL a dict of such), and the CFGDenoiser class name. Easel's
guidance is modules/sampling/cfg.py; what extensions see of it is the view in compat/cfg_view.py."""
from __future__ import annotations

from modules.extensions.compat.cfg_view import DenoiserView as CFGDenoiser  # noqa: F401 - A1111 name


def catenate_conds(conds: list):
    """Rows of all conds in order (each a tensor, or dicts with the same keys)."""
    import torch

    if isinstance(conds[0], dict):
        return {key: torch.cat([c[key] for c in conds]) for key in conds[0]}
    return torch.cat(conds)


def subscript_cond(cond, a: int, b: int):
    """Rows a..b of a cond (tensor or dict)."""
    if isinstance(cond, dict):
        return {key: value[a:b] for key, value in cond.items()}
    return cond[a:b]


def pad_cond(tensor, repeats: int, empty):
    """The cond with `repeats` copies of the empty prompt's vectors `empty` [1, 77, C] appended on tokens."""
    import torch

    if isinstance(tensor, dict):
        return {**tensor, "crossattn": pad_cond(tensor["crossattn"], repeats, empty)}
    return torch.cat([tensor, empty.repeat((tensor.shape[0], repeats, 1))], dim=1)  # [N, T + 77·repeats, C]
