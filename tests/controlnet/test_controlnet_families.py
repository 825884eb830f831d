"""ControlNet on other model variants than plain SD 1.x: the 9-channel inpainting UNet and SD 2.x. Each test builds
its own App (kept apart from test_controlnet_pipeline.py, whose App is shared by its tests)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modules.errors import InvalidInput
from modules.pipeline.img2img_request import Img2ImgRequest
from tests.controlnet.test_controlnet_parity import control_image
from tests.controlnet.test_controlnet_pipeline import all_latents, txt2img, unit
from tests.fixtures.tiny_controlnet import make_tiny_controlnet
from tests.pipeline.conftest import make_app


def test_a_9_channel_inpainting_model_is_steered_through_its_4_latent_channels(tmp_path, tiny_inpaint_checkpoint,
                                                                              hint_sizes):
    app = make_app(tmp_path, tiny_inpaint_checkpoint, "--precision", "full")
    make_tiny_controlnet(app.paths.models_dir / "ControlNet", "control_tiny")
    assert app.models.get(None).unet_in_channels == 9
    init = Image.fromarray(np.asarray(control_image())[::-1].copy())
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    base = dict(prompt="a red square", steps=3, width=64, height=64, seed=5, sampler_name="Euler",
                denoising_strength=0.9, init_images=(init,), mask=mask)
    plain = np.asarray(app.img2img(Img2ImgRequest(**base)).images[0], float)
    steered = np.asarray(app.img2img(Img2ImgRequest(**base, controlnet_units=(unit(),))).images[0], float)
    assert hint_sizes and np.abs(plain - steered)[16:48, 16:48].max() > 10


def test_sd2_checkpoints_take_sd2_controlnets_and_refuse_sd1_ones(tmp_path):
    """The tiny SD 2.x model (linear projections, 16-channel heads, text width 48): its own ControlNet, yaml or
    not, steers it; the SD 1.x one (width 32) is another family."""
    from tests.fixtures.tiny_sd2 import make_tiny_sd2_checkpoint, tiny_sd2_yaml

    checkpoint = make_tiny_sd2_checkpoint(tmp_path / "src", prediction="epsilon")
    app = make_app(tmp_path / "app", checkpoint, "--precision", "full")
    folder = app.paths.models_dir / "ControlNet"
    make_tiny_controlnet(folder, "control_sd21_tiny", base=tiny_sd2_yaml("epsilon"))
    make_tiny_controlnet(folder, "control_sd21_bare", base=tiny_sd2_yaml("epsilon"), fmt="safetensors",
                         prefix="", with_yaml=False)
    make_tiny_controlnet(folder, "control_sd15_tiny")
    plain = all_latents(app, txt2img(steps=3))
    for name in ("control_sd21_tiny", "control_sd21_bare"):
        assert (all_latents(app, txt2img(steps=3, controlnet_units=(unit(model=name),))) - plain).abs().max() > 0.05
    with pytest.raises(InvalidInput, match=r"controlnet_units\[0\].model: .*control_sd15_tiny.pth.*another model"):
        app.txt2img(txt2img(steps=3, controlnet_units=(unit(model="control_sd15_tiny"),)))
