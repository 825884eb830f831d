"""A1111's `modules.devices`: the device and dtypes Easel chose (`device`, `dtype`, `dtype_vae`, …) and the small
helpers extensions call (`torch_gc`, `autocast`, `without_autocast`, `get_optimal_device`, `randn`, …)."""
from __future__ import annotations

import contextlib
import gc
from typing import Any

import torch

from modules.extensions.compat import binding

cpu = torch.device("cpu")
fp8 = False
unet_needs_upcast = False
force_fp16 = False
nv_rng = None


class NansException(Exception):
    pass


def _config():
    return binding.app().services.models.device_config


def get_optimal_device_name() -> str:
    return str(_config().device) if binding.is_bound() else ("cuda" if torch.cuda.is_available() else "cpu")


def get_optimal_device() -> torch.device:
    return torch.device(get_optimal_device_name())


def get_device_for(task: str) -> torch.device:
    return get_optimal_device()


def has_mps() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def has_xpu() -> bool:
    return hasattr(torch, "xpu") and torch.xpu.is_available()


def cuda_no_autocast(device_id=None) -> bool:
    return False


_DYNAMIC = {
    "device": get_optimal_device,
    "device_interrogate": get_optimal_device,
    "device_gfpgan": get_optimal_device,
    "device_esrgan": get_optimal_device,
    "device_codeformer": get_optimal_device,
    "dtype": lambda: _config().dtype if binding.is_bound() else torch.float32,
    "dtype_unet": lambda: _config().dtype if binding.is_bound() else torch.float32,
    "dtype_inference": lambda: _config().dtype if binding.is_bound() else torch.float32,
    "dtype_vae": lambda: _config().vae_dtype if binding.is_bound() else torch.float32,
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.devices' has no attribute {name!r}")


def torch_gc() -> None:
    gc.collect()
    if torch.cuda.is_available():
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
    torch.manual_seed(seed)


def randn(seed: int, shape, generator=None) -> torch.Tensor:
    """Noise of `shape` from `seed` on the CPU generator, moved to the device (A1111's CPU RNG source)."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=gen).to(get_optimal_device())


def randn_local(seed: int, shape) -> torch.Tensor:
    return randn(seed, shape)


def randn_like(x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, device=cpu).to(x.device, x.dtype)


def randn_without_seed(shape, generator=None) -> torch.Tensor:
    return torch.randn(shape, generator=generator).to(get_optimal_device())


def test_for_nans(x: torch.Tensor, where: str) -> None:
    if torch.isnan(x).all():
        raise NansException(f"A tensor with all NaNs was produced in {where}.")


def first_time_calculation() -> None:
    return None


def cond_cast_unet(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def cond_cast_float(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if unet_needs_upcast else tensor


backend = "cuda" if torch.cuda.is_available() else "mps" if has_mps() else "cpu"
