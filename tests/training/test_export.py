"""Export round trip: trained networks → single-file checkpoint + yaml → ModelManager → the same numbers, and a
txt2img at the native size through the app."""
from __future__ import annotations

import pytest
import torch

import webui
from modules import cli
from modules.conditioning.tokenizer import load_clip_tokenizer
from modules.paths import INSTALL_DIR
from modules.pipeline.request import GenerationRequest
from modules.training.export import full_text_encoder, ldm_state, write_checkpoint
from modules.training.train_unet import build_text_encoder, build_unet
from modules.training.train_vae import build_vae
from modules.training.vocab import CompactVocab
from tests.training.tiny import tiny_builtin_yaml


def _exported(tmp_path, factor: int = 8):
    config = tiny_builtin_yaml(scale_factor=0.7, factor=factor)
    vocab = CompactVocab(load_clip_tokenizer(INSTALL_DIR / "configs"))
    unet, vae, text = build_unet(config).eval(), build_vae(config).eval(), build_text_encoder(config, vocab.size).eval()
    full = full_text_encoder(text, vocab, config)
    state = ldm_state(unet, vae, full, config)
    folder = tmp_path / "models" / "Stable-diffusion"
    path = write_checkpoint(folder, state, config, name="easel-builtin-test", metadata={"easel_training_steps": "0"})
    return path, config, vocab, unet, vae, text


@pytest.mark.parametrize("factor", [8, 4])
def test_export_loads_through_the_sd_code_path_with_the_same_weights(tmp_path, factor):
    path, config, vocab, unet, vae, text = _exported(tmp_path, factor)
    side = 64 // factor
    assert path.with_suffix(".yaml").is_file()
    names = __import__("safetensors").safe_open(str(path), "pt").keys()
    assert any(k.startswith("model.diffusion_model.") for k in names)
    app = webui.build_app(cli.parse_args(["--data-dir", str(tmp_path), "--precision", "full"], env={}))
    model = app.models.get(path.stem)
    assert model.prediction_type == "v_prediction" and model.native_size == 64 and model.latent_scale == 0.7
    assert model.vae_scale_factor == factor and config["model"]["params"]["image_size"] == side

    captions = ["a red circle at the left on a blue background", "a photo of a cat"]
    full_ids = vocab.full_chunks(captions)
    with torch.no_grad():
        expected = text(input_ids=vocab.compact(full_ids)).last_hidden_state
        got = model.text_hidden_states(full_ids)
        torch.testing.assert_close(got, expected, atol=2e-2, rtol=2e-2)  # float16 storage
        x, t = torch.randn(2, 4, side, side), torch.tensor([10.0, 900.0])
        torch.testing.assert_close(model.unet_forward(x, t, expected),
                                   unet(x, t, encoder_hidden_states=expected).sample, atol=3e-2, rtol=3e-2)
        z = torch.randn(1, 4, side, side)
        torch.testing.assert_close(model.decode(z * 0.7), ((vae.decode(z).sample + 1) / 2).clamp(0, 1),
                                   atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("factor", [8, 4])
def test_exported_model_generates_at_its_native_size(tmp_path, factor):
    path, *_ = _exported(tmp_path, factor)
    app = webui.build_app(cli.parse_args(["--data-dir", str(tmp_path)], env={}))
    result = app.txt2img(GenerationRequest(prompt="a red circle", negative_prompt="blue", steps=4, width=64,
                                           height=64, seed=1, override_settings={"sd_model_checkpoint": path.stem}))
    assert result.images[0].size == (64, 64)
    wide = app.txt2img(GenerationRequest(prompt="a red circle", steps=2, width=96, height=64, seed=1,
                                         override_settings={"sd_model_checkpoint": path.stem}))
    assert wide.images[0].size == (96, 64)


def test_unknown_words_share_the_unknown_row(tmp_path):
    config = tiny_builtin_yaml()
    vocab = CompactVocab(load_clip_tokenizer(INSTALL_DIR / "configs"))
    text = build_text_encoder(config, vocab.size)
    full = full_text_encoder(text, vocab, config)
    table = full.get_input_embeddings().weight
    cat, dog, red = 2368, 1929, int(vocab.full_ids[(vocab.full_ids == 736).nonzero()[0, 0]])
    assert table.shape[0] == 49408
    assert torch.equal(table[cat], table[dog]) and not torch.equal(table[cat], table[red])
    assert torch.equal(table[red], text.get_input_embeddings().weight[vocab.lookup[red]])
