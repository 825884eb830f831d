"""Preprocessors (annotators) that need no network weights, as one table; see registry.py for the fields."""
from __future__ import annotations

from modules.controlnet.preprocessors import edges, tile
from modules.controlnet.preprocessors.registry import Params, Preprocessor, Registry, Slider, Unavailable

__all__ = ["Params", "Preprocessor", "Registry", "Slider", "Unavailable", "PREPROCESSORS", "UNAVAILABLE",
           "default_registry"]

_EDGE_TAGS = ("Canny", "Lineart", "Scribble", "MLSD")
_VARIATION = Slider("Variation", 3.0, 32.0, 8.0, 1.0)
_FIDELITY = Slider("Style Fidelity (only for Balanced mode)", 0.0, 1.0, 0.5)

# The extension's names, labels, tags, sliders and sorting priorities.
PREPROCESSORS: tuple[Preprocessor, ...] = (
    Preprocessor("none", edges.none, tags=("InstructP2P",), priority=10),
    Preprocessor("invert", edges.invert, label="invert (from white bg & black line)", tags=_EDGE_TAGS,
                 resolution=None, priority=20),
    Preprocessor("canny", edges.canny, tags=("Canny",), priority=100,
                 slider_1=Slider("Low Threshold", 1, 255, 100, 1), slider_2=Slider("High Threshold", 1, 255, 200, 1)),
    Preprocessor("threshold", edges.threshold, slider_1=Slider("Binarization Threshold", 0, 255, 127)),
    Preprocessor("scribble_xdog", edges.scribble_xdog, tags=("Scribble", "SparseCtrl"),
                 slider_1=Slider("XDoG Threshold", 1, 64, 32)),
    Preprocessor("lineart_standard", edges.lineart_standard, label="lineart_standard (from white bg & black line)",
                 tags=("Lineart",), priority=100),
    Preprocessor("tile_resample", tile.tile_resample, tags=("Tile",), resolution=None, priority=100,
                 slider_1=Slider("Down Sampling Rate", 1.0, 8.0, 1.0)),
    Preprocessor("blur_gaussian", tile.blur_gaussian, tags=("Tile",), slider_1=Slider("Sigma", 0.01, 64.0, 9.0)),
    Preprocessor("shuffle", tile.shuffle, tags=("Shuffle",), resolution=None),
    Preprocessor("inpaint", tile.inpaint, label="inpaint_global_harmonious", tags=("Inpaint",), resolution=None,
                 accepts_mask=True, requires_mask=True),
    Preprocessor("inpaint_only", tile.inpaint, tags=("Inpaint",), resolution=None, priority=100,
                 accepts_mask=True, requires_mask=True),
    # the image as it is; the colour fix acts during sampling (modules/controlnet/colorfix.py)
    Preprocessor("tile_colorfix", edges.none, tags=("Tile",), resolution=None, slider_1=_VARIATION),
    Preprocessor("tile_colorfix+sharp", edges.none, tags=("Tile",), resolution=None, slider_1=_VARIATION,
                 slider_2=Slider("Sharpness", 0.0, 2.0, 1.0)),
    # no ControlNet model: the reference steers the UNet's attention (modules/controlnet/reference.py)
    Preprocessor("reference_only", edges.none, tags=("Reference",), resolution=None, slider_1=_FIDELITY,
                 model_free=True, priority=100),
    Preprocessor("reference_adain", edges.none, tags=("Reference",), resolution=None, slider_1=_FIDELITY,
                 model_free=True),
    Preprocessor("reference_adain+attn", edges.none, tags=("Reference",), resolution=None, slider_1=_FIDELITY,
                 model_free=True),
)

# Preprocessors refused with a reason. Those running a network on the user's annotator files (depth, openpose…)
# are in networks.py: listed always, refused only while their files are missing.
UNAVAILABLE: tuple[Unavailable, ...] = ()


def default_registry(roots: tuple = (), disable_safe_unpickle: bool = False) -> Registry:
    """Every preprocessor; the network ones look for their files under `roots`
    (modules/controlnet/preprocessors/annotator_files.py `annotator_roots`; none: all reported missing)."""
    from modules.controlnet.preprocessors.networks import with_networks

    return with_networks(PREPROCESSORS, UNAVAILABLE, tuple(roots), disable_safe_unpickle)
