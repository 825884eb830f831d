"""`Interrogators`: the one owner of the interrogation models (DeepBooru, BLIP, CLIP). Created by the App; runs
inside the App's job worker, so an interrogation never shares the device with a running generation.

Models stay loaded between requests (in RAM); with `interrogate_keep_models_in_memory` off they leave the GPU
after each request, as A1111's "Keep models in VRAM" does. A changed file (new modification time) is reloaded.
"""
from __future__ import annotations

import threading
from pathlib import Path
from collections.abc import Callable

from modules.errors import InvalidInput
from modules.interrogate import locate
from modules.interrogate.categories import append_matches, load_categories
from modules.interrogate.request import InterrogateRequest, InterrogateResult, validate_model
from modules.interrogate.tags import TagFormat, deepbooru_caption


def _stamp(path: Path) -> tuple[str, float]:
    """Identifies a model's files as they are now: a folder counts its newest file."""
    if path.is_dir():
        return str(path), max((p.stat().st_mtime for p in path.iterdir() if p.is_file()), default=0.0)
    return str(path), path.stat().st_mtime


def _module(model):
    """The torch module of a loaded DeepBooruModel (`net`) or HFModel (`model`)."""
    return model.net if hasattr(model, "net") else model.model


class Interrogators:
    def __init__(self, models_dir: Path, device: str | Callable[[], str] = "cpu",
                 disable_safe_unpickle: bool = False):
        self.models_dir = Path(models_dir)
        self._device = device  # or a function giving it: the App chooses its device at the first model load
        self.disable_safe_unpickle = disable_safe_unpickle
        self._loaded: dict[str, tuple[tuple[str, float], object]] = {}  # kind → (file stamp, model)
        self._lock = threading.RLock()

    @property
    def device(self) -> str:
        return str(self._device() if callable(self._device) else self._device)

    def dtype(self):
        """float16 on a GPU (A1111 halves these models there); float32 on the CPU, whatever its bf16 support."""
        import torch

        return torch.float32 if self.device == "cpu" else torch.float16

    def _model(self, kind: str, path: Path, load: Callable[[], object]):
        stamp = _stamp(path)
        cached = self._loaded.get(kind)
        if cached is None or cached[0] != stamp:
            self._loaded.pop(kind, None)
            self._loaded[kind] = (stamp, load())
        model = self._loaded[kind][1]
        _module(model).to(self.device)
        return model

    def _park(self, keep: bool) -> None:
        """Move the models back to the CPU unless the user keeps them on the GPU."""
        if keep or self.device == "cpu":
            return
        for _, model in self._loaded.values():
            _module(model).to("cpu")

    def run(self, request: InterrogateRequest, opts) -> InterrogateResult:
        """The caption for `request.image` with `request.model`; `opts` is the job's settings snapshot."""
        validate_model(request.model)
        if request.image is None:
            raise InvalidInput("image", "no image given", "a base64-encoded PNG, JPEG or WebP picture")
        image = request.image.convert("RGB")
        with self._lock:
            try:
                caption = self._deepbooru(image, opts) if request.model == "deepdanbooru" else self._clip(image, opts)
            finally:
                self._park(bool(opts["interrogate_keep_models_in_memory"]))
        return InterrogateResult(caption)

    def _deepbooru(self, image, opts) -> str:
        from modules.interrogate.deepbooru import load_deepbooru, tag_probabilities

        path = locate.deepbooru_file(self.models_dir)
        model = self._model("deepbooru", path, lambda: load_deepbooru(path, "cpu", self.dtype(),
                                                                      self.disable_safe_unpickle))
        return deepbooru_caption(tag_probabilities(model, image), TagFormat.from_options(opts))

    def _clip(self, image, opts) -> str:
        from modules.interrogate.clip_caption import blip_caption, image_features, load_hf, rank

        blip_dir = locate.hf_folder(self.models_dir, locate.BLIP_DIR, "blip")
        categories = load_categories(locate.categories_dir(self.models_dir),
                                     tuple(opts["interrogate_clip_skip_categories"]),
                                     int(opts["interrogate_clip_dict_limit"]))
        clip_dir = locate.hf_folder(self.models_dir, locate.CLIP_DIR, "clip") if categories else None
        blip = self._model("blip", blip_dir, lambda: load_hf(blip_dir, "blip", "cpu", self.dtype()))
        caption = blip_caption(blip, image, int(opts["interrogate_clip_num_beams"]),
                               int(opts["interrogate_clip_min_length"]), int(opts["interrogate_clip_max_length"]))
        if clip_dir is None:
            return caption
        clip = self._model("clip", clip_dir, lambda: load_hf(clip_dir, "clip", "cpu", self.dtype()))
        features = image_features(clip, image)  # (1, D)
        matches = [m for category in categories for m in rank(clip, features, category.items, category.topn)]
        return append_matches(caption, matches, bool(opts["interrogate_return_ranks"]))
