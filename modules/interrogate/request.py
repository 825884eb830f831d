"""The typed interrogation request and result (A1111's `/sdapi/v1/interrogate` body and answer)."""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from modules.errors import InvalidInput

MODELS = ("clip", "deepdanbooru")


@dataclass(frozen=True)
class InterrogateRequest:
    image: Image.Image | None = None
    model: str = "clip"


@dataclass(frozen=True)
class InterrogateResult:
    """The caption. Normally handed straight to the waiting caller (App.interrogate); the properties below let the
    job store keep it too (a job resumed after a restart has no caller)."""

    caption: str
    images = property(lambda self: [])
    infotexts = property(lambda self: [])
    warnings = property(lambda self: [])
    interrupted = property(lambda self: False)
    info = property(lambda self: {"caption": self.caption})


def validate_model(model: str) -> str:
    """The model name, or a 422 naming the field and the valid names.

    >>> validate_model("deepdanbooru")
    'deepdanbooru'
    >>> validate_model("blip")
    Traceback (most recent call last):
    modules.errors.InvalidInput: model: unknown interrogation model 'blip' (valid: clip, deepdanbooru)
    """
    if model not in MODELS:
        raise InvalidInput("model", f"unknown interrogation model {model!r}", ", ".join(MODELS))
    return model
