"""DeepBooru: A1111's `models/torch_deepdanbooru/model-resnet_custom_v3.pt` → tag probabilities for an image.

The file is a pickle: it is read through the restricted unpickler (modules/models/restricted_unpickle.py), so a
file that asks for anything but tensors and plain containers is refused before any of it runs. Its `tags` entry
(a list of strings, one per output) travels in the same state dict, as in A1111.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from modules.errors import ModelLoadError, UnsafeCheckpoint
from modules.imaging.resize import resize_image

if TYPE_CHECKING:
    import torch

INPUT_SIDE = 512  # the network was trained on 512×512 pictures


@dataclass
class DeepBooruModel:
    """A loaded tagger: the network and its tag names (same order as its outputs)."""

    net: torch.nn.Module  # DeepDanbooruNet
    tags: tuple[str, ...]
    path: Path


def read_model_file(path: Path, disable_safe_unpickle: bool = False) -> dict:
    """The raw state dict of a DeepDanbooru `.pt` (tensors and the `tags` list), read without running code."""
    import torch

    from modules.models.restricted_unpickle import restricted_pickle_module

    module = pickle if disable_safe_unpickle else restricted_pickle_module(path)
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=module, weights_only=False)
    except UnsafeCheckpoint:
        raise
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError, zipfile.BadZipFile,
            AttributeError, ImportError, KeyError, TypeError, IndexError) as e:
        raise ModelLoadError(str(path), f"not a readable DeepDanbooru model ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise ModelLoadError(str(path), f"the file holds a {type(obj).__name__}, not a state dict")
    return obj


def load_deepbooru(path: Path, device: str = "cpu", dtype=None, disable_safe_unpickle: bool = False):
    """Build the network from the file's shapes, load its weights, check the tag list matches the outputs."""
    import torch

    from modules.interrogate.deepbooru_net import DeepDanbooruNet, conv_name

    raw = read_model_file(path, disable_safe_unpickle)
    tags = raw.get("tags", [])
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise ModelLoadError(str(path), "its 'tags' entry is not a list of strings")
    tensors = {k: v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    try:
        net = DeepDanbooruNet({k: tuple(v.shape) for k, v in tensors.items()})
        net.load_state_dict(tensors, strict=True)
    except ModelLoadError as e:
        raise ModelLoadError(str(path), e.problem) from None
    except RuntimeError as e:
        raise ModelLoadError(str(path), f"weights do not fit the DeepDanbooru network: {e}") from None
    outputs = tensors[f"{conv_name(net.head)}.weight"].shape[0]
    if len(tags) != outputs:
        raise ModelLoadError(str(path), f"it names {len(tags)} tags for {outputs} outputs")
    net.eval().to(device, dtype or torch.float32)
    return DeepBooruModel(net, tuple(tags), path)


def model_input(image: Image.Image) -> np.ndarray:
    """A1111's input: RGB, fitted into 512×512 with the borders filled (resize mode 2), scaled to [0, 1].

    >>> model_input(Image.new("RGB", (64, 32), (255, 0, 0))).shape
    (1, 512, 512, 3)
    """
    picture = resize_image(2, image.convert("RGB"), INPUT_SIDE, INPUT_SIDE)
    return np.asarray(picture, dtype=np.float32)[None] / 255  # (1, 512, 512, 3)


def tag_probabilities(model: DeepBooruModel, image: Image.Image) -> list[tuple[str, float]]:
    """(tag, probability) for every tag of the model, in the model's order."""
    import torch

    weight = next(model.net.parameters())
    with torch.no_grad():
        x = torch.from_numpy(model_input(image)).to(weight.device, weight.dtype)  # (1, 512, 512, 3)
        probs = model.net(x)[0].float().cpu().tolist()  # (tags,)
    return list(zip(model.tags, probs))
