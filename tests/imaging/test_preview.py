import torch
from PIL import Image

from modules.imaging.preview import latent_preview, preview_image


def test_latent_preview_maps_channels_to_rgb():
    latents = torch.zeros(2, 4, 8, 16)
    latents[0, 3] = -1.0  # the 4th SD1 channel raises every colour (A1111's factors -0.184, -0.271, -0.473)
    image = latent_preview(latents)
    assert image.size == (16, 8)
    r, g, b = image.getpixel((0, 0))
    assert 127 < r < g < b


def test_preview_image_kinds():
    pil = Image.new("RGB", (4, 4))
    assert preview_image(pil) is pil
    assert preview_image(None) is None and preview_image(torch.zeros(1, 3, 8, 8)) is None
    assert preview_image(torch.zeros(1, 4, 8, 8)).size == (8, 8)
