"""The preprocessor table: sd-webui-controlnet's names, labels, tags and slider meanings, as data.

A preprocessor turns the unit's image (uint8 H×W×3, plus an optional H×W mask) into the detected map the ControlNet
reads. `resolution` is the "Preprocessor Resolution" slider (the short side the image is scaled to before
detection); `slider_1` / `slider_2` are the unit's threshold_a / threshold_b. A slider of None is hidden. Out-of-range
values (and -1) fall back to the slider's default, as the extension does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles
from modules.errors import InvalidInput


@dataclass(frozen=True)
class Slider:
    label: str
    minimum: float
    maximum: float
    value: float
    step: float = 0.01

    def pick(self, value: float) -> float:
        """The value a unit asked for, or the default when it is outside the slider (-1 means "default")."""
        return value if self.minimum <= value <= self.maximum else self.value

    @property
    def api_json(self) -> dict:
        """The shape /controlnet/module_list reports sliders in."""
        return {"name": self.label, "value": self.value, "min": self.minimum, "max": self.maximum,
                "step": self.step}


RESOLUTION = Slider("Resolution", 64, 2048, 512, 8)


@dataclass(frozen=True)
class Params:
    """What one run of a preprocessor gets: the resolved sliders, the unit's mask, a seeded generator."""

    resolution: int = 512
    a: float = -1
    b: float = -1
    mask: np.ndarray | None = None  # [H, W] uint8, 255 = masked
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


@dataclass(frozen=True)
class Preprocessor:
    name: str  # the API's `module`
    run: Callable[[np.ndarray, Params], np.ndarray]  # [H, W, 3] uint8 → [h, w, 3] or [h, w, 4] uint8 map
    label: str = ""  # the UI's name, when it differs
    tags: tuple[str, ...] = ()  # control types it belongs to
    resolution: Slider | None = RESOLUTION
    slider_1: Slider | None = None
    slider_2: Slider | None = None
    model_free: bool = False  # works without a ControlNet model
    accepts_mask: bool = False
    requires_mask: bool = False
    priority: int = 0  # higher is listed first (after "none")
    weights: AnnotatorFiles | None = None  # network preprocessors: the annotator files `run` loads
    # The openpose family: `run`'s map and the people found as OpenPose JSON (openpose/pose_json.py), in one pass.
    run_with_poses: Callable[[np.ndarray, Params], tuple[np.ndarray, dict]] | None = None

    @property
    def shown_name(self) -> str:
        return self.label or self.name

    @property
    def choice_label(self) -> str:
        """The UI's dropdown text: its label, and for a network preprocessor the files still to get."""
        missing = self.weights.missing() if self.weights is not None else ()
        return f"{self.shown_name} (missing {', '.join(p.name for p in missing)})" if missing else self.shown_name

    def missing_files(self) -> str:
        """'' when the preprocessor can run, else which weight files to put where (Easel downloads nothing)."""
        if self.weights is None:
            return ""
        return ", ".join(f"{p.name} in {p.parent}/" for p in self.weights.missing())

    def params(self, processor_res: float, threshold_a: float, threshold_b: float, mask=None, rng=None) -> Params:
        """The unit's raw slider values resolved against this preprocessor's sliders."""
        res = int(self.resolution.pick(processor_res)) if self.resolution else RESOLUTION.value
        a = self.slider_1.pick(threshold_a) if self.slider_1 else threshold_a
        b = self.slider_2.pick(threshold_b) if self.slider_2 else threshold_b
        return Params(int(res), a, b, mask, rng if rng is not None else np.random.default_rng(0))

    def detail(self) -> dict:
        """/controlnet/module_list's `module_detail` entry."""
        sliders = [s.api_json for s in (self.resolution, self.slider_1, self.slider_2) if s is not None]
        return {"model_free": self.model_free, "sliders": sliders}


@dataclass(frozen=True)
class Unavailable:
    """A preprocessor Easel names but cannot run yet: refused with the reason (or the files it would need). Those
    running on the user's annotator files are Preprocessors with `weights` (modules/controlnet/preprocessors/
    networks.py)."""

    name: str
    files: tuple[str, ...]
    folder: str  # under the data dir
    reason: str = ""  # instead of files, when what is missing is code, not weights

    def message(self) -> str:
        if self.reason:
            return f"the {self.name} preprocessor is not available in Easel yet: {self.reason}"
        return (f"the {self.name} preprocessor needs {', '.join(self.files)} in {self.folder}/ "
                "(Easel downloads nothing; see docs/controlnet.md)")


class Registry:
    """Preprocessors by name and label, sorted the extension's way ("none" first, then by priority, label)."""

    def __init__(self, preprocessors: tuple[Preprocessor, ...], unavailable: tuple[Unavailable, ...] = ()):
        rest = [p for p in preprocessors if p.name != "none"]
        none = [p for p in preprocessors if p.name == "none"]
        self._sorted = tuple(none + sorted(rest, key=lambda p: f"{p.priority:08d}{p.shown_name}", reverse=True))
        self._by_name = {p.name: p for p in preprocessors} | {p.shown_name: p for p in preprocessors}
        self._unavailable = {u.name: u for u in unavailable}

    def names(self, labels: bool = False) -> list[str]:
        return [p.shown_name if labels else p.name for p in self._sorted]

    def all(self) -> tuple[Preprocessor, ...]:
        return self._sorted

    def lookup(self, name: str, field_name: str = "module") -> Preprocessor:
        """The preprocessor called `name` (its name or its UI label), whether or not its weight files are there."""
        if name in self._by_name:
            return self._by_name[name]
        return self.get(name, field_name)

    def get(self, name: str, field_name: str = "module") -> Preprocessor:
        """The preprocessor called `name` (its name or its UI label) ready to run; an error naming the field and
        what is missing otherwise."""
        if name in self._by_name:
            pre = self._by_name[name]
            if missing := pre.missing_files():
                who = pre.name if pre.shown_name == pre.name else f"{pre.name} ({pre.shown_name})"
                raise InvalidInput(field_name, f"the {who} preprocessor needs {missing}",
                                   "the extension's annotator files, put there by you; see docs/controlnet.md")
            return pre
        if name in self._unavailable:
            raise InvalidInput(field_name, self._unavailable[name].message())
        raise InvalidInput(field_name, f"unknown preprocessor {name!r}", "GET /controlnet/module_list")

    def tags(self) -> list[str]:
        seen: list[str] = []
        for p in self._sorted:
            seen += [t for t in p.tags if t not in seen]
        return seen

    def unavailable(self) -> tuple[Unavailable, ...]:
        return tuple(self._unavailable.values())
