"""A1111's `modules.api.models`: the request and response models of /sdapi/v1, as Easel's (modules/api/schema.py,
generated from the request types). Extensions use them to type their own routes."""
from __future__ import annotations

from modules.api.schema import (GenerationResponse, Img2ImgApiRequest, PNGInfoRequest,  # noqa: F401
                                PNGInfoResponse, ProgressResponse, Txt2ImgApiRequest)
from modules.extensions.compat.pydantic1 import V1Config  # pydantic 1's `__config__` (extensions derive from it)


class StableDiffusionTxt2ImgProcessingAPI(Txt2ImgApiRequest):
    __config__ = V1Config


class StableDiffusionImg2ImgProcessingAPI(Img2ImgApiRequest):
    __config__ = V1Config


TextToImageResponse = GenerationResponse
ImageToImageResponse = GenerationResponse


def __getattr__(name: str):
    raise AttributeError(f"Easel has no modules.api.models.{name}: its API models are in modules/api/schema.py "
                         "(StableDiffusionTxt2ImgProcessingAPI, StableDiffusionImg2ImgProcessingAPI, "
                         "TextToImageResponse, ImageToImageResponse, ProgressResponse, PNGInfoRequest, "
                         "PNGInfoResponse)")
