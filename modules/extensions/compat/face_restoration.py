"""A1111's `modules.face_restoration`: the base class of face restorers and `restore_faces` with the restorer the
settings choose (Easel's restorers, modules/upscalers/faces)."""
from __future__ import annotations


class FaceRestoration:
    """Base class: `name()` and `restore(np_image)` (HWC uint8 RGB in and out)."""

    def name(self) -> str:
        return "None"

    def restore(self, np_image):
        return np_image


def restore_faces(np_image, w: float | None = None):
    """The image with faces restored by the restorer named in the `face_restoration_model` setting."""
    from modules.extensions.compat import shared
    from modules.extensions.compat.face_view import face_restorer_list

    wanted = shared.opts.face_restoration_model
    for restorer in face_restorer_list():
        if restorer.name() == wanted or wanted is None:
            return restorer.restore(np_image, w)
    return np_image
