"""The shipped built-in TAESD decoder: small, and clearly closer to the full decode than Approx cheap."""
from modules.models.taesd import load_decoder
from modules.training.train_taesd import EXPORT, compare, load_builtin_vae, make_pairs


def test_shipped_builtin_decoder_beats_approx_cheap():
    assert EXPORT.stat().st_size < 1_000_000
    vae, scale = load_builtin_vae()
    latents, targets = make_pairs(vae, scale, 16, seed=123)  # pictures the decoder was not trained on
    scores = compare(load_decoder(EXPORT), latents, targets)
    assert scores["psnr"] > scores["cheap_psnr"] + 6  # dB; measured in docs/previews.md
    assert scores["psnr"] > 20
