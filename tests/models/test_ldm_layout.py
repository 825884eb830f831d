"""diffusers → original layout (ours) → diffusers (diffusers' own converters) must give back the same tensors."""
import pytest
import torch
import yaml
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu

from modules.models.ldm_layout import (TEXT_PREFIX, UNET_PREFIX, VAE_PREFIX, text_encoder_to_ldm, unet_key_to_ldm,
                                       unet_to_ldm, vae_to_ldm)
from modules.paths import INSTALL_DIR
from tests.fixtures.tiny_model import ldm_state_dict, tiny_models, tiny_yaml


@pytest.fixture(scope="module")
def tiny():
    return tiny_models(tiny_yaml(), seed=3)


def test_tiny_unet_round_trip_is_exact(tiny):
    unet = tiny[0]
    original = unet.state_dict()
    back = sfu.convert_ldm_unet_checkpoint(unet_to_ldm(original, unet.config), dict(unet.config))
    assert set(back) == set(original)
    for key, value in original.items():
        assert torch.equal(back[key], value), key


def test_tiny_vae_round_trip_is_exact(tiny):
    vae = tiny[1]
    original = vae.state_dict()
    ldm = vae_to_ldm(original, vae.config)
    assert ldm[VAE_PREFIX + "encoder.mid.attn_1.q.weight"].ndim == 4  # stored as a 1x1 conv, like LDM
    back = sfu.convert_ldm_vae_checkpoint(ldm, dict(vae.config))
    assert set(back) == set(original)
    for key, value in original.items():
        assert torch.equal(back[key], value), key


def test_tiny_text_encoder_round_trip_is_exact(tiny):
    text = tiny[2]
    original = text.state_dict()
    ldm = text_encoder_to_ldm(original)
    assert all(k.startswith(TEXT_PREFIX) for k in ldm)
    back = {k.removeprefix("text_model."): v for k, v in sfu.convert_ldm_clip_checkpoint(ldm).items()}
    assert set(back) == set(original)
    assert all(torch.equal(back[k], v) for k, v in original.items())


def test_full_checkpoint_has_only_original_prefixes(tiny):
    state = ldm_state_dict(*tiny)
    prefixes = (UNET_PREFIX, VAE_PREFIX, TEXT_PREFIX)
    extras = {k for k in state if not k.startswith(prefixes)}
    assert extras == {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                      "sqrt_one_minus_alphas_cumprod", "model_ema.decay", "model_ema.num_updates"}
    assert state[TEXT_PREFIX + "embeddings.position_ids"].shape == (1, 77)


def test_sd15_layout_matches_diffusers_on_meta_tensors():
    """Real SD1.5 geometry (four levels, no attention in the deepest down / first up block), shapes only."""
    config = yaml.safe_load((INSTALL_DIR / "configs" / "v1-inference.yaml").read_text())
    unet_cfg = sfu.create_unet_diffusers_config_from_ldm(config, {})
    vae_cfg = sfu.create_vae_diffusers_config_from_ldm(config, {})
    with init_empty_weights():
        unet, vae = UNet2DConditionModel(**unet_cfg), AutoencoderKL(**vae_cfg)
    unet_sd = unet.state_dict()
    ldm = unet_to_ldm(unet_sd, unet.config)
    assert UNET_PREFIX + "output_blocks.2.1.conv.weight" in ldm  # first up block upsampler sits at index 1
    assert UNET_PREFIX + "output_blocks.5.2.conv.weight" in ldm
    assert UNET_PREFIX + "input_blocks.9.0.op.weight" in ldm and len(ldm) == len(unet_sd)
    assert not any(k.startswith(UNET_PREFIX + "input_blocks.10.1.") for k in ldm)  # deepest level: no attention
    back = sfu.convert_ldm_unet_checkpoint(ldm, dict(unet.config))
    assert set(back) == set(unet_sd) and all(back[k] is unet_sd[k] for k in unet_sd)
    vae_sd = vae.state_dict()
    back = sfu.convert_ldm_vae_checkpoint(vae_to_ldm(vae_sd, vae.config), dict(vae.config))
    assert set(back) == set(vae_sd) and all(back[k].shape == vae_sd[k].shape for k in vae_sd)


def test_unknown_key_is_refused():
    with pytest.raises(KeyError, match="not_a_block"):
        unet_key_to_ldm("not_a_block.weight", {"layers_per_block": 2, "up_block_types": []})
