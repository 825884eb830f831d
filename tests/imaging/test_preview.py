import pytest
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


def test_preview_method_selection(tmp_path):
    from modules.imaging.preview import preview_method

    taesd = tmp_path / "taesd_decoder.pth"
    assert preview_method("TAESD", taesd) == "Approx cheap"  # file absent
    taesd.write_bytes(b"x")
    assert preview_method("TAESD", taesd) == preview_method("Approx NN", taesd) == "TAESD"
    assert preview_method("Approx cheap", taesd) == preview_method("Full", taesd) == "Approx cheap"
    assert preview_method("TAESD", None) == "Approx cheap"


def test_taesd_previewer_decodes_at_full_size(tmp_path):
    from modules.imaging.preview import LatentPreviewer
    from modules.models.taesd import build_decoder

    torch.manual_seed(0)
    torch.save(build_decoder().state_dict(), tmp_path / "taesd_decoder.pth")
    previewer = LatentPreviewer("TAESD", tmp_path / "taesd_decoder.pth", log=pytest.fail)
    image = preview_image(torch.randn(2, 4, 8, 16), previewer)
    assert previewer.method == "TAESD" and image.size == (128, 64) and image.mode == "RGB"


def test_bad_taesd_file_falls_back_once(tmp_path):
    from modules.imaging.preview import LatentPreviewer

    path = tmp_path / "taesd_decoder.pth"
    torch.save({"1.weight": torch.zeros(3)}, path)
    messages = []
    previewer = LatentPreviewer("TAESD", path, log=messages.append)
    latents = torch.zeros(1, 4, 8, 16)
    first, second = preview_image(latents, previewer), preview_image(latents, previewer)
    assert first.size == second.size == (16, 8)  # Approx cheap: latent size
    assert first.tobytes() == latent_preview(latents).tobytes()
    assert len(messages) == 1 and "taesd_decoder.pth" in messages[0] and "Approx cheap" in messages[0]
    assert previewer.method == "Approx cheap"


def test_previewer_for_picks_the_model_file(tmp_path):
    from modules.imaging.preview import previewer_for

    (tmp_path / "VAE-taesd").mkdir()
    (tmp_path / "VAE-taesd" / "taesdxl_decoder.pth").write_bytes(b"x")
    assert previewer_for("TAESD", tmp_path, "sdxl", "a.safetensors").method == "TAESD"
    assert previewer_for("TAESD", tmp_path, "sd1", "a.safetensors").method == "Approx cheap"  # no taesd_decoder.pth
    builtin = previewer_for("TAESD", tmp_path, "sd1", "easel-builtin.safetensors")
    assert builtin.taesd_file.name == "easel-builtin-taesd.safetensors" and builtin.method == "Approx cheap"
