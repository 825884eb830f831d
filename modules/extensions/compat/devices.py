"""A1111's `modules.devices`: the device and dtypes Easel chose (`device`, `dtype`, `dtype_vae`, …) and the small
helpers extensions call (`torch_gc`, `autocast`, `without_autocast`, `get_optimal_device`, `randn`, …).

torch is imported on the first use of a value or helper that needs it, not when an extension imports this module:
extensions load before the page is served, and the page does not wait for torch
(docs/architecture.md §4). `cpu` and `backend`
are therefore computed on access, like `device` and the dtypes.
"""
from __future__ import annotations

import contextlib
import gc
import sys
from typing import TYPE_CHECKING, Any

from modules.extensions.compat import binding

if TYPE_CHECKING:
    import torch

fp8 = False
unet_needs_upcast = False
force_fp16 = False
nv_rng = None


class NansException(Exception):
    pass


def _config():
    return binding.app().services.models.device_config


def _torch():
    import torch

    return torch


def get_optimal_device_name() -> str:
    return str(_config().device) if binding.is_bound() else ("cuda" if _torch().cuda.is_available() else "cpu")


def get_optimal_device() -> torch.device:
    return _torch().device(get_optimal_device_name())


def get_device_for(task: str) -> torch.device:
    return get_optimal_device()


def has_mps() -> bool:
    torch = _torch()
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def has_xpu() -> bool:
    torch = _torch()
    return hasattr(torch, "xpu") and torch.xpu.is_available()


def cuda_no_autocast(device_id=None) -> bool:
    return False


_DYNAMIC = {
    "device": get_optimal_device,
    "device_interrogate": get_optimal_device,
    "device_gfpgan": get_optimal_device,
    "device_esrgan": get_optimal_device,
    "device_codeformer": get_optimal_device,
    "dtype": lambda: _config().dtype if binding.is_bound() else _torch().float32,
    "dtype_unet": lambda: _config().dtype if binding.is_bound() else _torch().float32,
    "dtype_inference": lambda: _config().dtype if binding.is_bound() else _torch().float32,
    "dtype_vae": lambda: _config().vae_dtype if binding.is_bound() else _torch().float32,
    "cpu": lambda: _torch().device("cpu"),
    "backend": lambda: "cuda" if _torch().cuda.is_available() else "mps" if has_mps() else "cpu",
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.devices' has no attribute {name!r}")


def torch_gc() -> None:
    gc.collect()
    torch = sys.modules.get("torch")  # never imported: no device memory to give back
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()


def torch_npu_set_device() -> None:
    return None


def enable_tf32() -> None:
    return None


def autocast(disable: bool = False):
    """Easel runs in the model's own dtype; a no-op context, as A1111's under `--precision full`."""
    return contextlib.nullcontext()


def without_autocast(disable: bool = False):
    return contextlib.nullcontext()


def manual_seed(seed: int) -> None:
    _torch().manual_seed(seed)


def randn(seed: int, shape, generator=None) -> torch.Tensor:
    """Noise of `shape` from `seed` on the CPU generator, moved to the device (A1111's CPU RNG source)."""
    torch = _torch()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=gen).to(get_optimal_device())


def randn_local(seed: int, shape) -> torch.Tensor:
    return randn(seed, shape)


def randn_like(x: torch.Tensor) -> torch.Tensor:
    return _torch().randn(x.shape, device="cpu").to(x.device, x.dtype)


def randn_without_seed(shape, generator=None) -> torch.Tensor:
    return _torch().randn(shape, generator=generator).to(get_optimal_device())


def test_for_nans(x: torch.Tensor, where: str) -> None:
    if x.isnan().all():
        raise NansException(f"A tensor with all NaNs was produced in {where}.")


def first_time_calculation() -> None:
    return None


def cond_cast_unet(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def cond_cast_float(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if unet_needs_upcast else tensor

