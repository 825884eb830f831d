"""Init images and masks made ready for sampling, and put back afterwards (A1111 `Img2Img.init` and overlay).

`prepare_inputs` turns a request into working-size pixels, a mask plan and overlays; `mask_latents` applies
masked content to the init latent; `image_conditioning` builds the [B, 5, h, w] input of 9-channel inpainting
models (Rombach et al. 2022, §4.3: the mask and the VAE latent of the masked image are concatenated to x).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from modules.errors import InvalidInput
from modules.imaging import masks as mk
from modules.imaging.convert import flatten, parse_background, pil_to_tensor
from modules.imaging.resize import LATENT_RESIZE, RESIZE_AND_FILL, resize_image, resize_mode_index
from modules.pipeline.img2img_request import INPAINTING_FILL, Img2ImgRequest, as_image
from modules.pipeline.extra_outputs import Finished

ORIGINAL = 1


@dataclass(frozen=True)
class MaskPlan:
    """A mask as the run uses it: `work` at the sampling size, `overlay` at the output size, the crop box."""

    work: Image.Image  # 'L', width × height of the request
    overlay: Image.Image  # 'L', size of the output image
    paste_box: mk.Box | None  # where an "only masked" result goes back, on the original image
    note: str | None = None
    latent: Image.Image | None = None  # the request's `latent_mask` at the working size; None: `work`

    @property
    def blend(self) -> Image.Image:
        """The mask of the latent blend and of "fill" masked content (A1111's `latent_mask`)."""
        return self.work if self.latent is None else self.latent


@dataclass
class PreparedInputs:
    """Per init image: working pixels (after resize/crop/fill), the overlay restoring kept pixels, the output
    when nothing is to change (strength 0); plus infotext entries and notes for the user."""

    pixels: list[Image.Image]
    overlays: list[Image.Image | None]
    unchanged: list[Image.Image]
    masks: list[MaskPlan | None]
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def has_mask(self) -> bool:
        return self.masks[0] is not None


def plan_mask(req: Img2ImgRequest, size: tuple[int, int]) -> MaskPlan | None:
    """Read, fit, invert and blur the request's mask for an image of `size`; refuse an empty one.

    A `latent_mask` is neither inverted nor blurred (A1111 uses it as given); it is fitted and cropped as the mask
    is, so that it lines up with the working image."""
    if req.mask is None:
        return None
    mask, note = mk.fit_mask(mk.binary_mask(as_image(req.mask, "mask"), req.mask_round), size)
    if req.inpainting_mask_invert:
        mask = ImageOps.invert(mask)
    mk.check_mask(mask)
    mask = mk.blur_mask(mask, req.mask_blur_x, req.mask_blur_y)
    latent = None if req.latent_mask is None else \
        mk.fit_mask(as_image(req.latent_mask, "latent_mask").convert("RGB"), size)[0]
    if req.inpaint_full_res:
        found = mk.crop_region(mask, req.inpaint_full_res_padding)
        if found is None:  # a wide blur can spread a few white pixels below one grey level
            raise InvalidInput("mask_blur", f"a blur of {req.mask_blur_x} × {req.mask_blur_y} leaves nothing of "
                               "this mask to repaint", "a smaller mask blur or a larger mask")
        box = mk.expand_crop_region(found, req.width, req.height, mask.width, mask.height)
        work = resize_image(RESIZE_AND_FILL, mask.crop(box), req.width, req.height)
        latent = None if latent is None else resize_image(RESIZE_AND_FILL, latent.crop(box), req.width, req.height)
        return MaskPlan(work, mask, box, note, latent)
    mode = 0 if resize_mode_index(req.resize_mode) == LATENT_RESIZE else resize_mode_index(req.resize_mode)
    work = resize_image(mode, mask, req.width, req.height)
    latent = None if latent is None else resize_image(mode, latent, req.width, req.height)
    doubled = np.clip(np.asarray(work, dtype=np.float32) * 2, 0, 255).astype(np.uint8)
    return MaskPlan(work, Image.fromarray(doubled, mode="L"), None, note, latent)


def mask_infotext(req: Img2ImgRequest, plan: MaskPlan) -> dict[str, Any]:
    """A1111's infotext entries for an inpainting run, in A1111's order of adding them."""
    blur = ({"Mask blur": req.mask_blur_x} if req.mask_blur_x == req.mask_blur_y
            else {"Mask blur x": req.mask_blur_x, "Mask blur y": req.mask_blur_y})
    extra: dict[str, Any] = {**blur}
    if req.inpainting_mask_invert:
        extra["Mask mode"] = "Inpaint not masked"
    if plan.paste_box is not None:
        extra["Inpaint area"] = "Only masked"
        extra["Masked area padding"] = req.inpaint_full_res_padding
    if req.inpainting_fill != ORIGINAL:
        extra["Masked content"] = INPAINTING_FILL[req.inpainting_fill]
    return extra


def _prepare_one(req: Img2ImgRequest, image: Image.Image, plan: MaskPlan | None, background, upscale):
    mode = resize_mode_index(req.resize_mode)
    image = flatten(image, background)
    if plan is None or plan.paste_box is None:
        pixel_mode = 0 if mode == LATENT_RESIZE else mode
        resized = resize_image(pixel_mode, image, req.width, req.height, upscale)
        working = image if mode == LATENT_RESIZE and plan is None else resized
        unchanged = resized
    else:
        unchanged = image
        working = resize_image(RESIZE_AND_FILL, image.crop(plan.paste_box), req.width, req.height, upscale)
    overlay = None if plan is None else mk.overlay_for(unchanged, plan.overlay)
    if plan is not None and req.inpainting_fill != ORIGINAL:
        working = mk.fill_masked(working, plan.blend)
    return working, overlay, unchanged


def prepare_inputs(req: Img2ImgRequest, background: str = "#ffffff", upscale=None) -> PreparedInputs:
    """Every init image brought to the working size, with its mask plan and overlay (A1111 processing order)."""
    rgb = parse_background(background)
    prepared = PreparedInputs([], [], [], [])
    for i, value in enumerate(req.init_images):
        image = as_image(value, f"init_images[{i}]")
        plan = plan_mask(req, image.size)
        working, overlay, unchanged = _prepare_one(req, image, plan, rgb, upscale)
        prepared.pixels.append(working)
        prepared.overlays.append(overlay)
        prepared.unchanged.append(unchanged)
        prepared.masks.append(plan)
        if plan is not None and plan.note and plan.note not in prepared.notes:
            prepared.notes.append(plan.note)
    first = prepared.masks[0]
    if first is not None:  # as `prepared.has_mask`
        prepared.extra.update(mask_infotext(req, first))
    return prepared


def pixels_tensor(images: list[Image.Image]) -> torch.Tensor:
    """Working images → [B, 3, H, W] in [0, 1] (already flattened)."""
    return pil_to_tensor(images)


def latent_masks(plans: list[MaskPlan], latent_h: int, latent_w: int, device, rounded: bool = True) -> torch.Tensor:
    """Repaint masks at latent size, [B, 1, h, w] in {0, 1} (in [0, 1] unrounded: `mask_round` false or soft
    inpainting); `1 - m` is the keep mask of CFGDenoiser."""
    rows = [torch.from_numpy(mk.latent_mask(p.blend, latent_w, latent_h, rounded)) for p in plans]
    return torch.stack(rows)[:, None].to(device)  # [B, 1, h, w]


def mask_latents(init: torch.Tensor, repaint: torch.Tensor, fill: int, noise: torch.Tensor) -> torch.Tensor:
    """Masked content in latent space: 2 "latent noise" puts noise under the mask, 3 "latent nothing" zeros."""
    if fill == 2:
        return init * (1 - repaint) + noise * repaint  # [B, 4, h, w]
    if fill == 3:
        return init * (1 - repaint)
    return init


def conditioning_mask(plans: list[MaskPlan] | None, batch: int, height: int, width: int,
                      rounded: bool = True) -> torch.Tensor:
    """The pixel mask a 9-channel model sees, [B, 1, H, W], rounded to 0/1 (unless soft inpainting);
    all ones without a mask."""
    if plans is None:
        return torch.ones(batch, 1, height, width)
    rows = [torch.from_numpy(np.asarray(p.work, dtype=np.float32) / 255.0) for p in plans]
    mask = torch.stack(rows)[:, None]  # [B, 1, H, W]
    return torch.round(mask) if rounded else mask


def image_conditioning(model, pixels: torch.Tensor, mask: torch.Tensor, latent_hw: tuple[int, int],
                       weight: float) -> torch.Tensor:
    """[B, 5, h, w] = (mask at latent size, latent of the image with the masked part greyed by `weight`).

    pixels [B, 3, H, W] in [0, 1]; weight is "Conditional mask weight" (1: the masked area is fully hidden).
    """
    source = pixels.to(model.device) * 2 - 1  # [B, 3, H, W] in [-1, 1]
    mask = mask.to(source)  # [B, 1, H, W]
    masked = torch.lerp(source, source * (1.0 - mask), weight)  # [B, 3, H, W]
    rows = ((masked + 1) / 2).split(1)  # one at a time: a batch then equals single runs bit for bit
    latent = torch.cat([model.encode(r, sample=False) for r in rows])  # [B, 4, h', w']
    if latent.shape[-2:] != latent_hw:  # "Just resize (latent upscale)": the init latent is resized the same way
        latent = F.interpolate(latent, size=latent_hw, mode="bilinear")  # [B, 4, h, w]
    small = F.interpolate(mask, size=latent_hw).expand(latent.shape[0], -1, -1, -1)  # [B, 1, h, w]
    return torch.cat([small, latent], dim=1)  # [B, 5, h, w]


def txt2img_conditioning(model, batch: int, height: int, width: int) -> torch.Tensor | None:
    """What a 9-channel model gets without an image: mask 1 everywhere over a grey picture (A1111).
    None for other models (they take no image conditioning)."""
    if not is_inpainting_model(model):
        return None
    grey = torch.full((1, 3, height, width), 0.5)
    latent = model.encode(grey, sample=False)  # [1, 4, h, w]
    mask = torch.ones(1, 1, *latent.shape[-2:], device=latent.device)
    return torch.cat([mask, latent], dim=1).expand(batch, -1, -1, -1)  # [B, 5, h, w]


def is_inpainting_model(model) -> bool:
    """9 input channels: 4 noisy latent + 1 mask + 4 masked-image latent (A1111's detection rule)."""
    return model.unet_in_channels == 9


def finish_image(image: Image.Image, overlay: Image.Image | None, plan: MaskPlan | None) -> Image.Image:
    """Paste an "only masked" result back and restore the pixels outside the mask."""
    return mk.apply_overlay(image, overlay, plan.paste_box if plan is not None else None)


def finished(image: Image.Image, overlay: Image.Image | None, plan: MaskPlan | None,
             mask: Image.Image | None = None, before: tuple = ()) -> Finished:
    """`finish_image` with what the mask outputs need: `mask` (A1111's mask_for_overlay; the plan's by default) and
    the result before the original was composited over it, uncropped as the composite uncrops it."""
    box = plan.paste_box if plan is not None else None
    denoised = image if overlay is None or box is None else mk.uncrop(image, overlay.size, box)
    mask = plan.overlay if mask is None and plan is not None else mask
    return Finished(finish_image(image, overlay, plan), before=before, mask=mask, denoised=denoised)

