"""A1111's `modules.api.api`: the image helpers and sampler check extensions' own routes use, on Easel's API code
(modules/api)."""
from __future__ import annotations

import base64
import io

from modules.extensions.compat import binding


def decode_base64_to_image(encoding: str):
    """A PIL image from base64 (a `data:` prefix allowed) or, where the settings allow it, an http(s) URL; bad
    input raises Easel's InvalidInput (422 naming the field)."""
    from modules.api.images import decode_image

    return decode_image("image", encoding, binding.app().options.data())


def encode_pil_to_base64(image) -> bytes:
    """PNG bytes of `image` in base64, with its infotext kept (A1111 returns bytes, as here)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (getattr(image, "info", None) or {}).items():
        if isinstance(key, str) and isinstance(value, str):
            info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue())


def validate_sampler_name(name: str) -> str:
    """The sampler's name when Easel knows it (or one of its aliases); else InvalidInput listing the names."""
    spec, _ = binding.app().services.samplers.resolve_sampler(name)
    return spec.name


def script_name_to_index(name: str, scripts) -> int:
    """Index of the script titled `name` (any case) in `scripts`; InvalidInput naming the field otherwise."""
    from modules.errors import InvalidInput

    titles = [s.title().lower() for s in scripts]
    if name.lower() not in titles:
        raise InvalidInput("script_name", f"unknown script {name!r}", ", ".join(titles) or "none")
    return titles.index(name.lower())


class Api:
    """A1111's API object. Extensions make their own to generate from their code (`Api(FastAPI(), queue_lock)`,
    then `text2imgapi(request)`): each call is answered as POST /sdapi/v1/txt2img or /img2img answers it, its job
    waiting its turn in Easel's queue (which runs one generation at a time, the order `queue_lock` gave A1111's
    calls). Easel's routes are served on the server's own app, so none are added to the `app` given here."""

    def __init__(self, app=None, queue_lock=None):
        self.app, self.queue_lock = app, queue_lock

    def text2imgapi(self, txt2imgreq):
        return self._call("txt2img", txt2imgreq)

    def img2imgapi(self, img2imgreq):
        return self._call("img2img", img2imgreq)

    @staticmethod
    def _call(kind: str, payload):
        from modules.api.routes_generate import run_call
        from modules.api.schema import GenerationResponse

        return GenerationResponse(**run_call(binding.app(), kind, payload))
