"""`shared.face_restorers`: A1111's FaceRestoration objects (`name()`, `restore(np_image)`) for the restorers whose
model files are present."""
from __future__ import annotations

import numpy as np
from PIL import Image

from modules.extensions.compat import binding


class FaceRestorerView:
    def __init__(self, name: str):
        self._name = name

    def name(self) -> str:
        return self._name

    def restore(self, np_image, w: float | None = None):
        """HWC uint8 RGB array in, the same out (A1111's signature; w is CodeFormer's weight)."""
        app = binding.app()
        weight = app.options.get("code_former_weight") if w is None else w
        restored = app.services.upscalers.faces.restore(Image.fromarray(np.asarray(np_image)), self._name, weight)
        return np.asarray(restored.image.convert("RGB"))


def face_restorer_list() -> list:
    upscalers = binding.app().services.upscalers
    faces = getattr(upscalers, "faces", None) if upscalers is not None else None
    return [FaceRestorerView(kind.name) for kind in (faces.available() if faces is not None else [])]
