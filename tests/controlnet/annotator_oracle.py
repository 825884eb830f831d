"""sd-webui-controlnet's own annotator code as a numeric oracle, imported from outside the repo, test-only.

Prepare it once (nothing goes into .venv):
    mkdir -p /tmp/oracle/sd-webui-controlnet
    git -C <mirror of Mikubill/sd-webui-controlnet> archive HEAD annotator/openpose annotator/midas \
        | tar -x -C /tmp/oracle/sd-webui-controlnet
    .venv/bin/python -m pip install --no-deps --target /tmp/oracle-deps timm opencv-python-headless
`EASEL_CONTROLNET_ORACLE` / `EASEL_ORACLE_DEPS` point elsewhere; tests skip when either part is absent.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

ORACLE = Path(os.environ.get("EASEL_CONTROLNET_ORACLE", "/tmp/oracle/sd-webui-controlnet"))
DEPS = Path(os.environ.get("EASEL_ORACLE_DEPS", "/tmp/oracle-deps"))


def _package(name: str, folder: Path) -> None:
    """A bare package over `folder`, so its modules import without its __init__ (which needs A1111's `modules`)."""
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(folder)]
        sys.modules[name] = pkg


def _needs(*modules: str) -> None:
    if str(DEPS) not in sys.path and DEPS.is_dir():
        sys.path.append(str(DEPS))  # after .venv's own packages: the oracle's extras only
    for module in modules:
        pytest.importorskip(module, reason=f"the oracle needs {module} (see tests/controlnet/annotator_oracle.py)")


def openpose_models():
    """The extension's annotator/openpose/model.py (torch only)."""
    folder = ORACLE / "annotator" / "openpose"
    if not (folder / "model.py").is_file():
        pytest.skip(f"no sd-webui-controlnet oracle at {ORACLE} (see tests/controlnet/annotator_oracle.py)")
    _package("easel_oracle_openpose", folder)
    return importlib.import_module("easel_oracle_openpose.model")


def openpose_body():
    """The extension's annotator/openpose/body.py (needs cv2; matplotlib is only drawn on there, so a stand-in)."""
    openpose_models()
    _needs("cv2")
    stand_in = "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None
    if stand_in:
        import colorsys

        import numpy as np

        mpl = types.ModuleType("matplotlib")
        mpl.colors = types.SimpleNamespace(hsv_to_rgb=lambda hsv: np.array(colorsys.hsv_to_rgb(*hsv)))
        sys.modules.update({"matplotlib": mpl, "matplotlib.pyplot": types.ModuleType("matplotlib.pyplot")})
    try:
        importlib.import_module("easel_oracle_openpose.util")  # util first: it and body import each other
        importlib.import_module("easel_oracle_openpose.face")
        return importlib.import_module("easel_oracle_openpose.body")
    finally:
        if stand_in:  # the oracle's modules keep their reference; nothing else should find it
            sys.modules.pop("matplotlib", None)
            sys.modules.pop("matplotlib.pyplot", None)


def openpose_face():
    """The extension's annotator/openpose/face.py (its FaceNet; needs cv2 and torchvision)."""
    openpose_body()  # imports face.py too, while the matplotlib stand-in is there
    return importlib.import_module("easel_oracle_openpose.face")


def midas_dpt():
    """The extension's annotator/midas/midas/dpt_depth.py (needs timm)."""
    folder = ORACLE / "annotator" / "midas" / "midas"
    if not (folder / "dpt_depth.py").is_file():
        pytest.skip(f"no sd-webui-controlnet oracle at {ORACLE} (see tests/controlnet/annotator_oracle.py)")
    _needs("timm")
    _package("easel_oracle_midas", folder)
    return importlib.import_module("easel_oracle_midas.dpt_depth")
