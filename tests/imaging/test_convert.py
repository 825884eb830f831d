"""PIL ⇄ tensor conversion: A1111's truncation, alpha flattening, shapes."""
import numpy as np
import pytest
import torch
from PIL import Image

from modules.errors import InvalidInput
from modules.imaging.convert import pil_to_tensor, tensor_to_pil


def a1111_pixels(sample: torch.Tensor) -> np.ndarray:
    """A1111 processing.py, for one decoded sample [3, H, W] already mapped to [0, 1]."""
    x = torch.clamp(sample, min=0.0, max=1.0)
    pixels = 255. * np.moveaxis(x.cpu().numpy(), 0, 2)
    return pixels.astype(np.uint8)


def test_matches_a1111_byte_for_byte():
    gen = torch.Generator().manual_seed(0)
    batch = torch.rand(3, 3, 16, 24, generator=gen) * 1.2 - 0.1  # [B, 3, H, W], some values outside [0, 1]
    images = tensor_to_pil(batch)
    assert len(images) == 3
    for img, sample in zip(images, batch):
        assert img.mode == "RGB" and img.size == (24, 16)
        assert np.array_equal(np.asarray(img), a1111_pixels(sample))


def test_truncates_not_rounds():
    x = torch.full((1, 3, 1, 1), 0.999)  # 254.745 → 254 (rounding would give 255)
    assert tensor_to_pil(x)[0].getpixel((0, 0)) == (254, 254, 254)


def test_bf16_and_nan_inputs():
    x = torch.tensor([float("nan"), 2.0, -1.0]).view(1, 3, 1, 1).to(torch.bfloat16)
    assert tensor_to_pil(x)[0].getpixel((0, 0)) == (0, 255, 0)


def test_one_and_four_channels():
    assert tensor_to_pil(torch.ones(2, 1, 4, 5))[1].mode == "L"
    rgba = tensor_to_pil(torch.ones(1, 4, 4, 5))[0]
    assert rgba.mode == "RGBA" and rgba.getpixel((0, 0)) == (255, 255, 255, 255)


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 2, 8, 8), (1, 3, 8, 8, 1)])
def test_wrong_shapes_refused(shape):
    with pytest.raises(ValueError, match="B, C, H, W"):
        tensor_to_pil(torch.zeros(shape))


def test_round_trip_is_exact_for_8_bit_images():
    pixels = np.arange(256 * 3, dtype=np.uint16).reshape(16, 16, 3) % 256
    img = Image.fromarray(pixels.astype(np.uint8))
    tensor = pil_to_tensor([img, img])
    assert tensor.shape == (2, 3, 16, 16) and tensor.dtype == torch.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    assert np.array_equal(np.asarray(tensor_to_pil(tensor)[1]), np.asarray(img))


def test_channel_order_and_layout():
    img = Image.new("RGB", (3, 2), (255, 0, 51))
    t = pil_to_tensor(img)  # a single image is a batch of one
    assert t.shape == (1, 3, 2, 3)
    assert t[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.0, 0.2])


def test_alpha_flattened_over_background():
    img = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    img.putpixel((1, 0), (0, 0, 0, 128))
    white = pil_to_tensor(img)[0]
    assert white[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert white[:, 1, 1].tolist() == [1.0, 1.0, 1.0]
    assert white[0, 0, 1].item() == pytest.approx(127 / 255, abs=1.5 / 255)
    black = pil_to_tensor(img, background="#000000")[0]
    assert black[:, 1, 1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("mode", ["LA", "PA", "P", "L", "CMYK", "1"])
def test_other_modes_become_rgb(mode):
    img = Image.new("RGBA", (4, 4), (10, 20, 30, 255)).convert(mode)
    t = pil_to_tensor(img)
    assert t.shape == (1, 3, 4, 4)


def test_palette_transparency_is_flattened():
    img = Image.new("P", (2, 1), 0)
    img.putpalette([0, 0, 0, 255, 0, 0])
    img.putpixel((1, 0), 1)
    img.info["transparency"] = 0
    t = pil_to_tensor(img, background="#00ff00")[0]
    assert t[:, 0, 0].tolist() == [0.0, 1.0, 0.0]
    assert t[:, 0, 1].tolist() == [1.0, 0.0, 0.0]


def test_16_bit_gray_keeps_precision():
    img = Image.new("I;16", (2, 2), 32768)
    t = pil_to_tensor(img)
    assert t.shape == (1, 3, 2, 2)
    assert t[0, :, 0, 0].tolist() == pytest.approx([32768 / 65535] * 3)


def test_bad_batches_refused():
    with pytest.raises(InvalidInput, match="no images"):
        pil_to_tensor([])
    with pytest.raises(InvalidInput, match="sizes differ.*8x8, 8x9"):
        pil_to_tensor([Image.new("RGB", (8, 8)), Image.new("RGB", (8, 9))])
    with pytest.raises(InvalidInput, match="background color"):
        pil_to_tensor(Image.new("RGB", (8, 8)), background="not-a-colour")
