"""The img2img / inpainting request: GenerationRequest plus A1111's img2img fields and defaults."""
from __future__ import annotations

import base64
import dataclasses
import binascii
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from modules.errors import EaselError, InvalidInput
from modules.imaging.masks import binary_mask, check_mask
from modules.imaging.metadata import open_image
from modules.imaging.resize import LATENT_RESIZE, resize_mode_index
from modules.pipeline.request import GenerationRequest, validate_request
from modules.pipeline.soft_settings import SoftSettings

INPAINTING_FILL = ("fill", "original", "latent noise", "latent nothing")
MIN_LATENT_SOURCE = 8  # a VAE needs at least one latent pixel
SOFT_RANGES = (("mask_blend_power", 0, 8), ("mask_blend_scale", 0, 8), ("inpaint_detail_preservation", 1, 32),
               ("composite_mask_influence", 0, 1), ("composite_difference_threshold", 0.01, 8),
               ("composite_difference_contrast", 0, 8))  # A1111's slider ranges


@dataclass(frozen=True)
class Img2ImgRequest(GenerationRequest):
    """img2img with optional inpainting. Images are PIL images (the API layer decodes base64 with `as_image`).

    mask: white = repaint. mask_blur, when given, sets both mask_blur_x and mask_blur_y (A1111's property).
    inpainting_fill: 0 fill, 1 original, 2 latent noise, 3 latent nothing. inpaint_full_res: "Only masked".
    initial_noise_multiplier None: the setting of that name. image_cfg_scale is accepted for API compatibility
    (it matters only to instruct-pix2pix models). mask_round False keeps the mask's grey levels (A1111 1.10;
    soft inpainting implies it); latent_mask replaces the mask where latents are blended (A1111's `latent_mask`).
    """

    init_images: tuple[Any, ...] = ()
    resize_mode: int = 0
    denoising_strength: float | None = 0.75
    image_cfg_scale: float | None = None
    mask: Any = None
    mask_blur: int | None = None
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    initial_noise_multiplier: float | None = None
    mask_round: bool = True  # round the mask to 0/1 (painted alpha, latent blend, 9-channel conditioning)
    latent_mask: Any = None  # a separate mask for the latent blend and "fill" (default: the blurred mask)
    include_init_images: bool = False
    # Soft inpainting (A1111's built-in script; its parameter names, SoftSettings' defaults): off unless
    # `soft_inpainting`
    soft_inpainting: bool = False
    mask_blend_power: float = SoftSettings.mask_blend_power
    mask_blend_scale: float = SoftSettings.mask_blend_scale
    inpaint_detail_preservation: float = SoftSettings.inpaint_detail_preservation
    composite_mask_influence: float = SoftSettings.composite_mask_influence
    composite_difference_threshold: float = SoftSettings.composite_difference_threshold
    composite_difference_contrast: float = SoftSettings.composite_difference_contrast

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "init_images", tuple(self.init_images))
        if self.mask_blur is not None:
            object.__setattr__(self, "mask_blur_x", self.mask_blur)
            object.__setattr__(self, "mask_blur_y", self.mask_blur)

    def soft_settings(self) -> SoftSettings | None:
        """The soft inpainting parameters when enabled and there is a mask, else None."""
        if not self.soft_inpainting or self.mask is None:
            return None
        return SoftSettings(*(getattr(self, f.name) for f in dataclasses.fields(SoftSettings)))

    @property
    def strength(self) -> float:
        return 0.75 if self.denoising_strength is None else float(self.denoising_strength)


def as_image(value: Any, field: str) -> Image.Image:
    """A PIL image, image bytes, or a base64 string (a `data:image/...;base64,` prefix allowed) → PIL image."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, str):
        text = value.split(",", 1)[1] if value.startswith("data:") else value
        try:
            value = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(field, "not a base64-encoded image", "PNG/JPEG/WebP bytes as base64") from None
    if isinstance(value, (bytes, bytearray)):
        try:
            return open_image(bytes(value))
        except EaselError as exc:
            raise InvalidInput(field, exc.message, "a PNG, JPEG or WebP image") from None
    raise InvalidInput(field, f"expected an image, got {type(value).__name__}", "a PNG, JPEG or WebP image")


def _check_range(name: str, value, low: float, high: float, whole: bool = False) -> None:
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidInput(name, f"expected a {'whole ' if whole else ''}number, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(name, f"{value} is out of range", f"{low} to {high}")


def validate_img2img(req: Img2ImgRequest) -> None:
    """The txt2img checks plus the img2img fields; images must decode, masks must be images."""
    validate_request(req)
    if not req.init_images:
        raise InvalidInput("init_images", "no init image given", "at least one image")
    for i, image in enumerate(req.init_images):
        image = as_image(image, f"init_images[{i}]")
        if resize_mode_index(req.resize_mode) == LATENT_RESIZE and min(image.size) < MIN_LATENT_SOURCE:
            raise InvalidInput(f"init_images[{i}]", f"{image.width}x{image.height} is too small for a latent "
                               "resize", f"at least {MIN_LATENT_SOURCE}x{MIN_LATENT_SOURCE}, or resize_mode 0-2")
    _check_range("denoising_strength", req.strength, 0.0, 1.0)
    _check_range("mask_blur_x", req.mask_blur_x, 0, 256)
    _check_range("mask_blur_y", req.mask_blur_y, 0, 256)
    _check_range("inpainting_fill", req.inpainting_fill, 0, 3, whole=True)
    _check_range("inpaint_full_res_padding", req.inpaint_full_res_padding, 0, 2048)
    _check_range("inpainting_mask_invert", int(req.inpainting_mask_invert), 0, 1, whole=True)
    for name, low, high in SOFT_RANGES:
        _check_range(name, getattr(req, name), low, high)
    if req.initial_noise_multiplier is not None:
        _check_range("initial_noise_multiplier", req.initial_noise_multiplier, 0.0, 10.0)
    if not isinstance(req.mask_round, bool):
        raise InvalidInput("mask_round", f"expected true or false, got {req.mask_round!r}")
    if req.mask is not None:
        mask = binary_mask(as_image(req.mask, "mask"), req.mask_round)
        check_mask(ImageOps.invert(mask) if req.inpainting_mask_invert else mask)
    if req.latent_mask is not None:
        if req.mask is None:
            raise InvalidInput("latent_mask", "a latent mask only changes how a mask is applied, and there is "
                               "no mask", "a mask as well, or no latent_mask")
        as_image(req.latent_mask, "latent_mask")


def decoded(req: Img2ImgRequest) -> Img2ImgRequest:
    """The request with its images decoded to PIL (bytes and base64 accepted) and checked, ready to queue."""
    images = tuple(as_image(v, f"init_images[{i}]") for i, v in enumerate(req.init_images))
    mask = None if req.mask is None else as_image(req.mask, "mask")
    latent_mask = None if req.latent_mask is None else as_image(req.latent_mask, "latent_mask")
    ready = req.replace(init_images=images, mask=mask, latent_mask=latent_mask)
    validate_img2img(ready)
    return ready
