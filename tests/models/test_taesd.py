"""TAESD decoder: the published index layout loads (.pth through the restricted unpickler, .safetensors), decodes
to the right shape and range; a foreign file is refused naming it."""
import pytest
import torch
from safetensors.torch import save_file

from modules.errors import ModelLoadError
from modules.models.taesd import (build_decoder, build_encoder, decode, decode_infotext, decoder_path, encode,
                                   fast_decode, load_decoder, load_encoder)
from tests.fixtures.tiny_taesd import write_taesd

# Key names of the published taesd_decoder.pth (SD1): top-level convs by Sequential index, blocks' conv.{0,2,4}.
PUBLISHED_KEYS = {"1.weight", "1.bias", "3.conv.0.weight", "3.conv.4.bias", "7.weight", "12.weight", "17.weight",
                  "18.conv.2.weight", "19.weight", "19.bias"}


def random_file(tmp_path, name="taesd_decoder.pth", latent_channels=4):
    torch.manual_seed(0)
    state = build_decoder(latent_channels).state_dict()
    path = tmp_path / name
    if name.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def test_layout_matches_published_keys():
    keys = set(build_decoder().state_dict())
    assert keys >= PUBLISHED_KEYS
    assert not any(k.startswith(("7.bias", "12.bias", "17.bias")) for k in keys)  # upsample convs have no bias


@pytest.mark.parametrize("name", ["taesd_decoder.pth", "taesd_decoder.safetensors"])
def test_random_file_loads_and_decodes(tmp_path, name):
    decoder = load_decoder(random_file(tmp_path, name))
    x = decode(decoder, torch.randn(2, 4, 5, 7) * 10)  # outliers are soft-clamped
    assert x.shape == (2, 3, 40, 56) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    y = fast_decode(decoder, torch.randn(1, 4, 5, 7))
    assert y.min() >= -1 and y.max() <= 1


def test_sd3_width_latents_load(tmp_path):
    decoder = load_decoder(random_file(tmp_path, latent_channels=16))
    assert decode(decoder, torch.randn(1, 16, 2, 2)).shape == (1, 3, 16, 16)


def test_wrong_file_names_the_file(tmp_path):
    path = tmp_path / "taesd_decoder.pth"
    torch.save({"1.weight": torch.zeros(64, 4, 3, 3), "1.bias": torch.zeros(64), "99.weight": torch.zeros(1)}, path)
    with pytest.raises(ModelLoadError, match="taesd_decoder.pth.*not a TAESD decoder"):
        load_decoder(path)
    torch.save({"something": torch.zeros(3)}, path)
    with pytest.raises(ModelLoadError, match="taesd_decoder.pth"):
        load_decoder(path)


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "taesd_decoder.pth"
    torch.save({"1.weight": torch.zeros(1), "evil": print}, path)
    with pytest.raises(Exception, match="taesd_decoder.pth"):
        load_decoder(path)


def test_paths_and_infotext(tmp_path):
    assert decoder_path(tmp_path, "sdxl") == tmp_path / "VAE-taesd" / "taesdxl_decoder.pth"
    assert decoder_path(tmp_path, "sd1-inpaint").name == "taesd_decoder.pth"
    builtin = decoder_path(tmp_path, "sd1", "/x/Stable-diffusion/easel-builtin-inpainting.safetensors")
    assert builtin.name == "easel-builtin-taesd.safetensors"
    assert decode_infotext("TAESD") == {"VAE Decoder": "TAESD"} and decode_infotext("Full") == {}


# ---- the encoder and the fit check (fast encode, docs/previews.md) ---------------------------------------------

ENCODER_KEYS = {"0.weight", "0.bias", "1.conv.0.weight", "2.weight", "3.conv.4.bias", "6.weight", "10.weight",
                "13.conv.2.weight", "14.weight", "14.bias"}  # published taesd_encoder.pth


def test_encoder_layout_matches_published_keys():
    keys = set(build_encoder().state_dict())
    assert keys >= ENCODER_KEYS
    assert not any(k in keys for k in ("2.bias", "6.bias", "10.bias"))  # strided convs have no bias


@pytest.mark.parametrize("name", ["taesd_encoder.pth", "taesd_encoder.safetensors"])
def test_random_encoder_file_loads_and_encodes(tmp_path, name):
    encoder = load_encoder(write_taesd(tmp_path / name, "encoder", width=64))
    z = encode(encoder, torch.rand(2, 3, 40, 56))
    assert z.shape == (2, 4, 5, 7) and z.dtype == torch.float32


def test_constant_encoder_and_decoder_fixtures_are_used(tmp_path):
    encoder = load_encoder(write_taesd(tmp_path / "e.pth", "encoder", constant=(0.5, -1.0, 2.0, 0.0)))
    assert torch.equal(encode(encoder, torch.rand(1, 3, 16, 16))[0, :, 0, 0], torch.tensor([0.5, -1.0, 2.0, 0.0]))
    decoder = load_decoder(write_taesd(tmp_path / "d.pth", constant=(0.25, 0.5, 2.0)))
    assert torch.equal(decode(decoder, torch.randn(1, 4, 2, 2))[0, :, 0, 0], torch.tensor([0.25, 0.5, 1.0]))


@pytest.mark.parametrize("part, kwargs, fits, problem", [
    ("decoder", dict(latent_channels=16), (4, 8), "16-channel latents at 1/8 size; the model's are 4-channel"),
    ("decoder", dict(stages=2), (4, 8), "4-channel latents at 1/4 size"),
    ("encoder", dict(latent_channels=16), (4, 8), "TAESD encoder is for 16-channel"),
])
def test_file_for_another_latent_space_is_refused_naming_it(tmp_path, part, kwargs, fits, problem):
    path = write_taesd(tmp_path / f"taesd_{part}.pth", part, **kwargs)
    load = load_decoder if part == "decoder" else load_encoder
    with pytest.raises(ModelLoadError, match=rf"taesd_{part}\.pth.*{problem}"):
        load(path, fits)
    assert load(path) is not None  # without a model to fit, the file itself is fine


def test_decoder_file_given_as_encoder_names_the_file(tmp_path):
    path = write_taesd(tmp_path / "taesd_encoder.pth", "decoder")
    with pytest.raises(ModelLoadError, match=r"taesd_encoder\.pth.*not a TAESD encoder"):
        load_encoder(path)


def test_encoder_paths_and_infotext(tmp_path):
    assert decoder_path(tmp_path, "sdxl", part="encoder").name == "taesdxl_encoder.pth"
    assert decoder_path(tmp_path, "sd2-v", part="encoder").name == "taesd_encoder.pth"
    assert decode_infotext("TAESD", "VAE Encoder") == {"VAE Encoder": "TAESD"}
