"""Typed requests (frozen dataclasses) ⇄ JSON, so a queued job survives a restart. Images travel as PNG base64."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
from collections.abc import Mapping
from typing import Any

from PIL import Image

from modules.errors import InvalidInput

IMAGE_KEY = "$png"


def _encode_value(value: Any) -> Any:
    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return {IMAGE_KEY: base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _encode_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {IMAGE_KEY}:
            image = Image.open(io.BytesIO(base64.b64decode(value[IMAGE_KEY])))
            image.load()
            return image
        return {k: _decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def encode_request(request: Any) -> str:
    """A dataclass request as JSON text: every field, images as PNG.

    >>> from modules.pipeline.request import GenerationRequest
    >>> text = encode_request(GenerationRequest(prompt="cat", styles=("a",), override_settings={"k": 1}))
    >>> decode_request(GenerationRequest, text) == GenerationRequest(prompt="cat", styles=("a",),
    ...                                                              override_settings={"k": 1})
    True
    """
    encoded = _encode_value(request)
    text = json.dumps(encoded, ensure_ascii=False)
    try:
        text.encode("utf-8")  # what the job store writes; a lone surrogate ("\ud800") cannot be
    except UnicodeEncodeError:
        field = next((k for k, v in encoded.items() if not _utf8_ok(v)), "request")
        raise InvalidInput(field, "contains a lone UTF-16 surrogate (half of a \\ud800-\\udfff pair)",
                           "text that is valid Unicode") from None
    return text


def _utf8_ok(value: Any) -> bool:
    r"""Whether `value` can be stored as UTF-8 JSON.

    >>> _utf8_ok({"a": ["x"]}), _utf8_ok({"a": ["x\ud800"]})
    (True, False)
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_request(request_type: type, text: str) -> Any:
    """Rebuild a request of `request_type`; fields it no longer has are dropped (an upgrade between runs)."""
    data = _decode_value(json.loads(text))
    names = {f.name for f in dataclasses.fields(request_type)}
    return request_type(**{k: v for k, v in data.items() if k in names})


def png_bytes(image: Image.Image, infotext: str | None = None, extra_text: dict | None = None) -> bytes:
    """The image as PNG with its infotext in the `parameters` chunk (what A1111's API sends), plus other chunks."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if infotext:
        info.add_text("parameters", infotext)
    for key, text in (extra_text or {}).items():
        info.add_text(key, text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
