"""`FaceRestorers`: which face restorers the user's model files allow, and running one over an image.

A restorer needs two files the user supplies (nothing is downloaded): the restorer itself, read by spandrel
(GFPGAN and RestoreFormer are in spandrel's registry; CodeFormer is in the separate `spandrel_extra_arches`
package, used when it is installed), and facexlib's RetinaFace detector, looked for where A1111 keeps it.
Restorers are named as A1111 names them; each is found in its own folder under models/.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from modules.errors import InvalidInput, ModelLoadError

if TYPE_CHECKING:  # the networks' modules need torch: imported when a restorer first runs (docs/architecture.md §4)
    import torch

    from modules.upscalers.faces.detect import Face

SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")
DETECTOR_FILES = ("detection_Resnet50_Final", "detection_mobilenet0.25_Final")  # stems, preferred first
DETECTOR_FOLDERS = ("facedetect", "GFPGAN", "Codeformer")
HELPER_PREFIXES = ("detection_", "parsing_")  # facexlib's own weights, kept beside the restorers by A1111
EXTRA_ARCHES = "spandrel-extra-arches"


@dataclass(frozen=True)
class RestorerKind:
    """A row of the restorer table: its name, folder under models/, the file to suggest, spandrel's id, and the
    keyword arguments its network is called with (besides the crop) given the CodeFormer weight."""

    name: str
    folder: str
    example: str
    architecture: str
    call_kwargs: Callable[[float], dict] = field(default=lambda weight: {})
    needs_extra_arches: bool = False


# GFPGAN: randomize_noise=False uses the noise the file stores, so a seed gives the same image every time.
KINDS: tuple[RestorerKind, ...] = (
    RestorerKind("CodeFormer", "Codeformer", "codeformer-v0.1.0.pth", "CodeFormer",
                 lambda weight: {"weight": weight, "adain": True}, needs_extra_arches=True),
    RestorerKind("GFPGAN", "GFPGAN", "GFPGANv1.4.pth", "GFPGAN",
                 lambda weight: {"return_rgb": False, "randomize_noise": False}),
    RestorerKind("RestoreFormer", "RestoreFormer", "RestoreFormer.pth", "RestoreFormer"),
)
NAMES = tuple(k.name for k in KINDS)


@dataclass
class Restored:
    image: Image.Image
    faces: list[Face]


def _model_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES),
                  key=lambda p: p.name.lower())


def extra_registry():
    """spandrel's registry plus spandrel_extra_arches' architectures (a copy: the global registry is left as it
    is), or None when that package is not installed."""
    try:
        import spandrel_extra_arches
    except ImportError:
        return None
    from spandrel import MAIN_REGISTRY

    registry = MAIN_REGISTRY.copy()
    registry.add(*spandrel_extra_arches.EXTRA_REGISTRY, ignore_duplicates=True)
    return registry


def as_device(device: torch.device | str | Callable[[], str]) -> torch.device:
    """A torch device from a device, its name, or a function giving either (called only now)."""
    import torch

    return torch.device(device() if callable(device) else device)


def load_restorer_state(state: dict, kind: RestorerKind, source: str, device: torch.device | str = "cpu"):
    """The restorer network (spandrel descriptor's model, eval mode) for a state dict, checked to be `kind`."""
    import torch
    from spandrel import MAIN_REGISTRY, ModelLoader, UnsupportedModelError

    registry = extra_registry() if kind.needs_extra_arches else MAIN_REGISTRY
    if registry is None:
        raise ModelLoadError(source, f"{kind.name} needs the {EXTRA_ARCHES} package, which Easel does not install "
                                     f"(its CodeFormer code is under the non-commercial S-Lab License 1.0): "
                                     f"pip install {EXTRA_ARCHES}==0.2.0 in Easel's environment to use it")
    try:
        descriptor = ModelLoader(device=torch.device(device), registry=registry).load_from_state_dict(state)
    except UnsupportedModelError:
        raise ModelLoadError(source, f"spandrel does not recognise this file as a {kind.name} model") from None
    except (KeyError, RuntimeError, ValueError, TypeError, AssertionError) as exc:
        raise ModelLoadError(source, f"spandrel could not build the model ({type(exc).__name__}: {exc})") from None
    found = descriptor.architecture.id
    if found != kind.architecture:
        home = next((k.folder for k in KINDS if k.architecture == found), None)
        hint = f"; put it in models/{home}" if home else ""
        raise ModelLoadError(source, f"this is a {found} model, not {kind.name}{hint}")
    return descriptor.model.eval()


def run_restorer(net, kind: RestorerKind, crop: Image.Image, weight: float) -> Image.Image:
    """One aligned 512×512 RGB crop through the network: [-1, 1] in, [-1, 1] out (A1111's normalisation)."""
    import torch

    param = next(net.parameters())
    pixels = np.asarray(crop.convert("RGB"), dtype=np.float32) / 127.5 - 1.0  # [512, 512, 3]
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(param.device, param.dtype)  # [1, 3, 512, 512]
    with torch.inference_mode():
        out = net(x, **kind.call_kwargs(weight))[0]  # [1, 3, 512, 512]
    array = ((out[0].float().clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array.round().astype(np.uint8), mode="RGB")


class FaceRestorers:
    """Face restorers by name, the detector, and the last restorer loaded (one at a time, like upscalers)."""

    def __init__(self, models_dir: Path, device: torch.device | str | Callable[[], str] = "cpu",
                 disable_safe_unpickle: bool = False, folders: Mapping[str, Path] | None = None):
        """`folders`: another folder per models/ sub-folder name, searched first (A1111's --gfpgan-models-path,
        --codeformer-models-path)."""
        self.models_dir = Path(models_dir)
        self.folders = dict(folders or {})
        self._device = device  # or a function giving it, called at the first load
        self.disable_safe_unpickle = disable_safe_unpickle
        self._detector: tuple[Path, Any] | None = None
        self._restorer: tuple[Path, Any] | None = None
        self._lock = threading.RLock()

    @property
    def device(self) -> torch.device:
        return as_device(self._device)

    def kind(self, name: str | None, field: str) -> RestorerKind:
        for kind in KINDS:
            if kind.name.lower() == (name or "").strip().lower():
                return kind
        raise InvalidInput(field, f"unknown face restoration model {name!r}", ", ".join(NAMES))

    def folder(self, name: str) -> Path:
        """Where models of the models/ sub-folder `name` go: a folder a flag named, else models/<name>."""
        return self.folders.get(name, self.models_dir / name)

    def _files(self, name: str) -> list[Path]:
        """Model files of sub-folder `name`: the flag's folder's and models/<name>'s, sorted by file name."""
        folders = dict.fromkeys([self.folder(name), self.models_dir / name])
        return sorted((p for f in folders for p in _model_files(f)), key=lambda p: p.name.lower())

    def restorer_file(self, kind: RestorerKind) -> Path | None:
        """The restorer's model file in models/<folder> (facexlib's helper weights skipped); of several, the last
        by name (GFPGANv1.4 before GFPGANv1.3)."""
        files = [p for p in self._files(kind.folder) if not p.name.lower().startswith(HELPER_PREFIXES)]
        return files[-1] if files else None

    def detector_file(self) -> Path | None:
        """facexlib's RetinaFace weights (ResNet-50 preferred) from models/facedetect, GFPGAN or Codeformer."""
        files = [p for folder in DETECTOR_FOLDERS for p in self._files(folder)]
        for stem in DETECTOR_FILES:
            for path in files:
                if path.stem.lower() == stem.lower():
                    return path
        return None

    def available(self) -> list[RestorerKind]:
        """The restorers whose model file is present (what /face-restorers lists)."""
        return [kind for kind in KINDS if self.restorer_file(kind) is not None]

    def api_entries(self) -> list[dict]:
        return [{"name": k.name, "cmd_dir": str(self.folder(k.folder))} for k in self.available()]

    def require(self, name: str | None, field: str) -> RestorerKind:
        """The restorer named, if its files are present; else a message naming the files and where they go."""
        kind = self.kind(name, field)
        missing = []
        if self.restorer_file(kind) is None:
            missing.append(f"{kind.example} (or another {kind.name} model) in {self.folder(kind.folder)}")
        if self.detector_file() is None:
            folders = ", ".join(str(self.folder(f)) for f in DETECTOR_FOLDERS)
            missing.append(f"facexlib's face detector {DETECTOR_FILES[0]}.pth (or {DETECTOR_FILES[1]}.pth) in one "
                           f"of {folders}")
        if kind.needs_extra_arches and extra_registry() is None:
            missing.append(f"the {EXTRA_ARCHES} Python package (pip install {EXTRA_ARCHES}==0.2.0; Easel does not "
                           f"install it because CodeFormer's code is under the non-commercial S-Lab License 1.0)")
        if missing:
            raise InvalidInput(field, f"face restoration with {kind.name} is not available: Easel downloads "
                                      f"nothing, so put " + " and ".join(missing))
        return kind

    def _load(self, slot: str, path: Path, build: Callable[[dict], Any]):
        from modules.upscalers.models import read_weights

        loaded = getattr(self, slot)
        if loaded is None or loaded[0] != path:
            setattr(self, slot, None)
            setattr(self, slot, (path, build(read_weights(path, self.disable_safe_unpickle))))
        return getattr(self, slot)[1]

    def detector(self):
        path = self.detector_file()
        if path is None:
            raise ModelLoadError(str(self.folder(DETECTOR_FOLDERS[0])), "no face detector file")
        from modules.upscalers.faces.retinaface import load_retinaface

        return self._load("_detector", path, lambda state: load_retinaface(state, str(path), self.device))

    def restorer(self, kind: RestorerKind):
        path = self.restorer_file(kind)
        if path is None:
            raise ModelLoadError(str(self.folder(kind.folder)), f"no {kind.name} model file")
        return self._load("_restorer", path, lambda state: load_restorer_state(state, kind, str(path), self.device))

    def detect(self, image: Image.Image) -> list[Face]:
        from modules.upscalers.faces.detect import detect_faces

        return detect_faces(self.detector(), image)

    def restore(self, image: Image.Image, name: str | None, weight: float = 0.5,
                field: str = "face_restoration_model") -> Restored:
        """Every face found in `image` restored by the named restorer and pasted back (no faces: unchanged)."""
        from modules.upscalers.faces.align import FACE_SIZE, restore_faces

        kind = self.require(name, field)
        with self._lock:
            faces = self.detect(image)
            if not faces:
                return Restored(image.convert("RGB"), [])
            net = self.restorer(kind)
            out = restore_faces(image, [f.landmarks for f in faces],
                                lambda crop: run_restorer(net, kind, crop, weight), FACE_SIZE)
        return Restored(out, faces)

    def unload(self) -> None:
        with self._lock:
            self._detector = self._restorer = None
