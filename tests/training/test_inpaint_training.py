"""The inpainting variant's training: it starts from the text-to-image UNet, sees the same conditioning the
inpaint pipeline builds, learns, resumes, and its export loads as a 9-channel model that inpaints through the app."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import webui
from modules import cli
from modules.pipeline import inpaint
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.training.dataset import shape_masks
from modules.training.export import full_text_encoder, ldm_state, write_checkpoint
from modules.training.train_inpaint import InpaintTrainer, conditioning, random_mask
from modules.training.train_unet import UnetTrainer, build_unet
from modules.training.train_vae import build_vae
from tests.training.tiny import tiny_builtin_yaml


@pytest.fixture(scope="module")
def vae():
    return build_vae(tiny_builtin_yaml()).eval()


def _latents(vae, images):
    with torch.no_grad():
        mean = vae.encode(torch.from_numpy(images).float() / 127.5 - 1).latent_dist.mean  # [N, 4, 8, 8]
    return mean.half(), torch.full_like(mean, 0.05).half()


def _base(tmp_path, data, vocab, vae) -> dict:
    images, scenes = data
    base = UnetTrainer(tiny_builtin_yaml(), vocab, _latents(vae, images), 1.0, scenes, tmp_path / "unet.pt", batch=4)
    base.step(0.5)
    base.save()
    return torch.load(tmp_path / "unet.pt", weights_only=False)


def _trainer(tmp_path, data, vocab, vae, base, **options) -> InpaintTrainer:
    images, scenes = data
    return InpaintTrainer(tiny_builtin_yaml(inpaint=True), vocab, _latents(vae, images), 1.0, scenes,
                          tmp_path / "inpaint.pt", images=images, vae=vae, base=base, batch=8, **options)


def test_it_starts_as_the_text_to_image_model_and_learns(tmp_path, data, vocab, vae):
    base = _base(tmp_path, data, vocab, vae)
    trainer = _trainer(tmp_path, data, vocab, vae, base, lr=2e-3)
    plain = build_unet(tiny_builtin_yaml())
    plain.load_state_dict(base["ema_unet"])
    x, t, context = torch.randn(2, 4, 8, 8), torch.tensor([5, 700]), torch.randn(2, 77, 32)
    with torch.no_grad():  # the 5 new input channels start at zero: any conditioning, the same prediction
        widened = trainer.unet(torch.cat([x, torch.randn(2, 5, 8, 8)], 1), t, encoder_hidden_states=context).sample
        torch.testing.assert_close(widened, plain(x, t, encoder_hidden_states=context).sample)
    losses = [trainer.step(0.5)["loss"] for _ in range(20)]
    assert all(map(math.isfinite, losses)) and sum(losses[-4:]) < sum(losses[:4])
    assert trainer.unet.conv_in.weight[:, 4:].abs().sum() > 0  # it learned to read the conditioning
    trainer.progress.step = 20
    trainer.save()
    resumed = _trainer(tmp_path, data, vocab, vae, base)
    assert resumed.progress.step == 20  # a resume keeps its own weights, not the base's
    torch.testing.assert_close(resumed.unet.conv_in.weight, trainer.unet.conv_in.weight)


def test_masks_cover_everything_the_shape_or_a_box(data):
    images, scenes = data
    gen = torch.Generator().manual_seed(0)
    masks = [random_mask(scenes[i % 16], 64, gen) for i in range(200)]
    assert all(m.shape == (1, 64, 64) and set(m.unique().tolist()) <= {0.0, 1.0} for m in masks)
    full = sum(bool(m.all()) for m in masks)
    assert 25 < full < 75  # about a quarter
    shape = shape_masks(images, scenes)  # [16, 1, 64, 64]
    around = sum(bool((m >= shape[i % 16]).all()) and not m.all() for i, m in enumerate(masks))
    assert around > 50  # the box around the shape (and random boxes that happen to cover it)
    again = torch.Generator().manual_seed(0)
    assert torch.equal(random_mask(scenes[0], 64, again), masks[0])  # deterministic from the generator


def test_training_conditioning_is_what_the_inpaint_pipeline_builds(data, vae):
    images, scenes = data
    masks = torch.stack([random_mask(s, 64, torch.Generator().manual_seed(i)) for i, s in enumerate(scenes[:4])])

    class Model:  # the loaded model's encode: [0, 1] pixels → scaled latent mean
        device = torch.device("cpu")

        @staticmethod
        def encode(pixels, sample):
            return vae.encode(pixels * 2 - 1).latent_dist.mean * 0.7

    with torch.no_grad():
        ours = conditioning(vae, images[:4], masks, 0.7, (8, 8))  # [4, 5, 8, 8]
        pipeline = inpaint.image_conditioning(Model, torch.from_numpy(images[:4]).float() / 255, masks, (8, 8), 1.0)
    torch.testing.assert_close(ours, pipeline, atol=1e-4, rtol=1e-4)


def test_exported_variant_loads_as_an_inpainting_model_and_inpaints(tmp_path, data, vocab, vae):
    base = _base(tmp_path, data, vocab, vae)
    trainer = _trainer(tmp_path, data, vocab, vae, base)
    config = tiny_builtin_yaml(inpaint=True)
    text = full_text_encoder(trainer.ema_text, vocab, config)
    path = write_checkpoint(tmp_path / "models" / "Stable-diffusion", ldm_state(trainer.ema_unet, vae, text, config),
                            config, name="easel-builtin-inpainting")
    app = webui.build_app(cli.parse_args(["--data-dir", str(tmp_path)], env={}))
    model = app.models.get(path.stem)
    assert inpaint.is_inpainting_model(model) and model.native_size == 64
    picture = Image.fromarray(np.ascontiguousarray(data[0][0].transpose(1, 2, 0)))
    mask = Image.new("L", (64, 64))
    mask.paste(255, (16, 16, 48, 48))
    result = app.img2img(Img2ImgRequest(init_images=(picture,), mask=mask, prompt="a blue square", steps=3,
                                        width=64, height=64, seed=1, denoising_strength=0.8,
                                        override_settings={"sd_model_checkpoint": path.stem}))
    out = np.asarray(result.images[0])
    assert out.shape == (64, 64, 3)
    assert np.abs(out[:8].astype(int) - np.asarray(picture)[:8]).max() <= 2  # outside the mask: kept
