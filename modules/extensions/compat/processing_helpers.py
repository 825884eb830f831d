"""More of A1111's `modules.processing` helpers, which extensions call on their own images and latents
(`processing.<name>` reaches them through compat/processing.py's module `__getattr__`)."""
from __future__ import annotations

from modules.extensions.compat.sd_samplers_common import (approximation_indexes,  # noqa: F401 - A1111 re-exports
                                                          images_tensor_to_samples, samples_to_images_tensor)


def uncrop(image, dest_size: tuple[int, int], paste_loc: tuple[int, int, int, int]):
    """`image` resized to the paste box (x, y, w, h) and placed there on a transparent canvas of `dest_size`."""
    from PIL import Image

    from modules.extensions.compat.images import resize_image

    x, y, w, h = paste_loc
    canvas = Image.new("RGBA", dest_size)
    canvas.paste(resize_image(1, image, w, h), (x, y))
    return canvas


def apply_overlay(image, paste_loc, overlay):
    """(the image with the inpainting overlay composited on it, the image before that); without an overlay the
    image and a copy. With `paste_loc` (only masked area) the image is first put back at its place."""
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        image = uncrop(image, (overlay.width, overlay.height), paste_loc)
    before = image.copy()
    image = image.convert("RGBA")
    image.alpha_composite(overlay)
    return image.convert("RGB"), before


def decode_latent_batch(model, batch, target_device=None, check_for_nans=False) -> list:
    """Latents [B, 4, h, w] → a list of B images [3, H, W] in -1..1, by the loaded model's VAE."""
    decoded = samples_to_images_tensor(batch)  # [B, 3, H, W]
    if target_device is not None:
        decoded = decoded.to(target_device)
    return list(decoded)


def txt2img_image_conditioning(sd_model, x, width: int, height: int):
    """What the model gets as image conditioning in txt2img: for an inpainting model the all-masked grey picture
    [B, 5, h, w]; zeros [B, 5, 1, 1] for other models (as A1111)."""
    from modules.extensions.compat import binding
    from modules.pipeline.inpaint import txt2img_conditioning

    model = binding.app().services.models.current
    found = txt2img_conditioning(model, x.shape[0], height, width) if model is not None else None
    return found if found is not None else x.new_zeros(x.shape[0], 5, 1, 1)
