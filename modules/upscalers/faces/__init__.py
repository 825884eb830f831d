"""Face restoration (A1111's GFPGAN / CodeFormer) with the user's model files and no OpenCV or facexlib:

`retinaface` is facexlib's RetinaFace detector network (its weight files load as they are), `detect` turns its
outputs into faces with 5 landmarks, `align` warps each face onto the FFHQ template and pastes the restored crop
back through a soft mask, and `restorers.FaceRestorers` (owned by the `Upscalers` service) finds the files, loads
the networks through spandrel and runs them.
"""
from modules.upscalers.faces.restorers import KINDS, NAMES, FaceRestorers, Restored

__all__ = ["KINDS", "NAMES", "FaceRestorers", "Restored"]
