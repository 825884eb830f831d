"""Reading an upscaler / face-restoration model file safely and handing its weights to spandrel.

Pickle files go through the restricted unpickler (tensors and plain containers only), as checkpoints do;
spandrel then detects the architecture from the state dict's keys and shapes.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from modules.errors import ModelLoadError, UnsafeCheckpoint
from modules.models.restricted_unpickle import restricted_pickle_module

KNOWN_KINDS = "ESRGAN, Real-ESRGAN, SwinIR, Swin2SR, DAT, HAT, SPAN, Compact, OmniSR, GFPGAN, … (spandrel's list)"


def read_weights(path: Path, disable_safe_unpickle: bool = False) -> dict:
    """The file's top-level dict (spandrel unwraps `params_ema`, `state_dict` and the like itself)."""
    if not path.is_file():
        raise ModelLoadError(str(path), "file not found")
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own error types for corrupt headers
            raise ModelLoadError(str(path), f"not a readable safetensors file ({exc})") from None
    module = pickle if disable_safe_unpickle else restricted_pickle_module(path)
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=module, weights_only=False,
                         mmap=zipfile.is_zipfile(path))
    except UnsafeCheckpoint:
        raise
    except Exception as exc:  # torch.load raises many types on bad data
        raise ModelLoadError(str(path), f"not a readable model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise ModelLoadError(str(path), f"the file holds a {type(obj).__name__}, not a state dict")
    return obj


def load_descriptor(path: Path, device: torch.device | str = "cpu", disable_safe_unpickle: bool = False):
    """A spandrel `ImageModelDescriptor` for the file, on `device`, in eval mode."""
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    state = read_weights(path, disable_safe_unpickle)
    try:
        descriptor = ModelLoader(device=torch.device(device)).load_from_state_dict(state)
    except UnsupportedModelError:
        raise ModelLoadError(str(path), f"spandrel does not recognise this model's architecture "
                                        f"(valid: {KNOWN_KINDS})") from None
    except (KeyError, RuntimeError, ValueError, TypeError, AssertionError) as exc:
        raise ModelLoadError(str(path), f"spandrel could not build the model ({type(exc).__name__}: {exc})") from None
    if not isinstance(descriptor, ImageModelDescriptor):
        raise ModelLoadError(str(path), f"a {descriptor.architecture.name} model needs a mask; it is not an upscaler")
    return descriptor.eval()
