"""reference_only, reference_adain, reference_adain+attn (modules/controlnet/reference.py): the hooks on the tiny
SD 1.x UNet, and reference units (no ControlNet model) through txt2img."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modules.controlnet.reference import (REFERENCE_MODULES, ReferenceHooks, ReferencePass, SharedAttention,
                                          adain_modules, attention_ranks, call_with_reference, transformer_blocks)
from modules.controlnet.units import ControlMode, ControlUnit, ResizeMode
from modules.pipeline.request import GenerationRequest
from tests.pipeline.conftest import make_app


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    return make_app(tmp_path_factory.mktemp("cn-reference"), tiny_checkpoint, "--precision", "full")


def unet_inputs(model, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 8, 8, generator=g)  # [2, 4, h, w]
    context = torch.randn(2, 77, model.unet.config.cross_attention_dim, generator=g)  # [2, 77, C]
    t = torch.tensor([500.0, 500.0])

    def unet_call(x_in, residuals=None, concat=None):
        return model.unet_forward(x_in, t, context)

    return x, unet_call


@pytest.mark.parametrize("module", REFERENCE_MODULES)
def test_a_reference_equal_to_the_input_changes_nothing(app, module):
    """Attending to a copy of its own tokens leaves self-attention as it is, and renormalising to its own statistics
    leaves a block's output as it is: so a reference pass on the very latents of the call must give the plain
    prediction. Any bank read by the wrong block, in the wrong order or at the wrong rows breaks this."""
    model = app.models.get(None)
    x, unet_call = unet_inputs(model)
    plain = unet_call(x)
    hooks = ReferenceHooks(model.unet, "sd")
    same = call_with_reference(hooks, [ReferencePass(module, 1.0, 0.5, x.clone())], unet_call, x, None,
                               torch.tensor([1]))
    assert (same - plain).abs().max() < 1e-4
    other = call_with_reference(hooks, [ReferencePass(module, 1.0, 0.5, torch.flip(x, dims=(2,)))], unet_call, x,
                                None, torch.tensor([1]))
    assert (other - plain).abs().max() > 1e-3


def test_the_hooks_are_gone_after_the_call(app):
    model = app.models.get(None)
    x, unet_call = unet_inputs(model)
    before = [type(b.attn1.processor) for b in transformer_blocks(model.unet)]
    call_with_reference(ReferenceHooks(model.unet, "sd"), [ReferencePass("reference_adain+attn", 1.0, 0.5, -x)],
                        unet_call, x, None, None)
    assert [type(b.attn1.processor) for b in transformer_blocks(model.unet)] == before
    assert SharedAttention not in before
    assert all(not m._forward_hooks for m, _ in adain_modules(model.unet, "sd"))
    assert torch.equal(unet_call(x), unet_call(x))


def test_fidelity_one_leaves_the_unconditional_rows_plain(app):
    """With fidelity 1 the unconditional rows get the plain prediction and the conditional ones the steered."""
    model = app.models.get(None)
    x, unet_call = unet_inputs(model)
    plain = unet_call(x)
    steered = call_with_reference(ReferenceHooks(model.unet, "sd"), [ReferencePass("reference_only", 1.0, 1.0, -x)],
                                  unet_call, x, None, torch.tensor([1]))
    assert (steered[1] - plain[1]).abs().max() < 1e-5 and (steered[0] - plain[0]).abs().max() > 1e-3


def test_attention_ranks_put_the_widest_blocks_first(app):
    blocks = transformer_blocks(app.models.get(None).unet)
    ranks = attention_ranks(blocks)
    widths = [b.norm1.normalized_shape[0] for b in blocks]
    assert sorted(ranks) == [i / len(blocks) for i in range(len(blocks))]
    assert all(ranks[i] < ranks[j] for i in range(len(blocks)) for j in range(len(blocks)) if widths[i] > widths[j])


# ---- through txt2img --------------------------------------------------------------------------------------------

def reference_image() -> Image.Image:
    array = np.zeros((64, 64, 3), np.uint8)
    array[:, :32] = (250, 220, 40)
    array[:, 32:] = (30, 40, 200)
    return Image.fromarray(array)


def generate(app, *units, hr: bool = False) -> np.ndarray:
    """The final latents (the tiny model's random VAE shows little of them in pixels)."""
    from tests.controlnet.test_controlnet_parity import easel_latents

    req = GenerationRequest(prompt="a red ball", negative_prompt="green", steps=5, width=64, height=64, seed=9,
                            sampler_name="Euler", cfg_scale=7.0, controlnet_units=tuple(units))
    if hr:
        req = req.replace(enable_hr=True, hr_scale=1.5, hr_upscaler="Latent", denoising_strength=0.5)
    return easel_latents(app, req).numpy()


def ref_unit(module: str = "reference_only", **fields) -> ControlUnit:
    return ControlUnit(enabled=True, module=module, model="None", image=reference_image(),
                       resize_mode=ResizeMode.JUST_RESIZE, **fields)


def test_reference_units_need_no_model_and_steer(app):
    plain = generate(app)
    results = {m: generate(app, ref_unit(m)) for m in REFERENCE_MODULES}
    for module, image in results.items():
        assert np.abs(image - plain).max() > 0.1, module
    assert np.abs(results["reference_only"] - results["reference_adain"]).max() > 0.1
    assert np.abs(results["reference_adain+attn"] - results["reference_only"]).max() > 0.1


def test_reference_weight_zero_is_bit_identical_and_fidelity_and_modes_matter(app):
    assert np.array_equal(generate(app, ref_unit(weight=0.0)), generate(app))
    low, high = generate(app, ref_unit(threshold_a=0.0)), generate(app, ref_unit(threshold_a=1.0))
    assert np.abs(low - high).max() > 0.1
    prompt = generate(app, ref_unit(control_mode=ControlMode.PROMPT, threshold_a=1.0))
    assert np.array_equal(prompt, low)  # "My prompt is more important" runs with fidelity 0
    assert generate(app, ref_unit(), hr=True).shape == (1, 4, 12, 12)


def test_the_api_lists_the_new_modules_and_runs_a_reference_unit_without_a_model(tmp_path, tiny_checkpoint):
    import base64
    import io

    from tests.api.conftest import make_client

    buffer = io.BytesIO()
    reference_image().save(buffer, format="PNG")
    with make_client(tmp_path, tiny_checkpoint) as client:
        detail = client.get("/controlnet/module_list").json()["module_detail"]
        assert detail["reference_only"]["model_free"] is True and detail["tile_colorfix"]["model_free"] is False
        assert [s["name"] for s in detail["reference_adain+attn"]["sliders"]] == \
            ["Style Fidelity (only for Balanced mode)"]
        assert [s["name"] for s in detail["tile_colorfix+sharp"]["sliders"]] == ["Variation", "Sharpness"]
        types = client.get("/controlnet/control_types").json()["control_types"]
        assert types["Reference"]["default_option"] == "reference_only"
        assert types["Reference"]["model_list"] == ["None"]
        assert "tile_colorfix" in types["Tile"]["module_list"] and types["Tile"]["default_option"] == "tile_resample"
        unit = {"enabled": True, "module": "reference_only", "model": "None",
                "image": base64.b64encode(buffer.getvalue()).decode()}
        answer = client.post("/sdapi/v1/txt2img", json={"prompt": "a ball", "steps": 3, "width": 64, "height": 64,
                                                         "alwayson_scripts": {"controlnet": {"args": [unit]}}})
        assert answer.status_code == 200, answer.text
        for module in ("reference_only", "tile_colorfix+sharp"):
            detected = client.post("/controlnet/detect", json={"controlnet_module": module,
                                                               "controlnet_input_images": [unit["image"]]})
            assert detected.status_code == 200 and len(detected.json()["images"]) == 1, detected.text


def test_new_modules_write_and_read_back_their_infotext():
    from modules.controlnet.infotext import parse_unit_text, units_infotext
    from modules.controlnet.preprocessors import default_registry

    units = (ref_unit("reference_adain+attn"), ControlUnit(enabled=True, module="tile_colorfix+sharp", model="t [1]"))
    entries = units_infotext(units, default_registry())
    assert "Module: reference_adain+attn, Model: None" in entries["ControlNet 0"]
    assert "Threshold A: 0.5" in entries["ControlNet 0"]  # Style Fidelity's default, as it ran
    assert "Threshold A: 8.0, Threshold B: 1.0" in entries["ControlNet 1"]  # Variation, Sharpness
    back = parse_unit_text(entries["ControlNet 1"].strip('"'))
    assert (back.module, back.model, back.threshold_a, back.threshold_b) == ("tile_colorfix+sharp", "t [1]", 8.0, 1.0)


def test_xyz_preprocessor_axis_switches_reference_modes(app):
    from modules.extensions.compat import binding
    from tests.extensions.test_builtin_xyz import BASE, xyz_args

    binding.bind(app, app.scripts)
    result = app.txt2img(GenerationRequest(**BASE, controlnet_units=(ref_unit(),), script_name="X/Y/Z plot",
                                           script_args=xyz_args("[ControlNet] Preprocessor",
                                                                "reference_only, reference_adain")))
    first, second = result.images[1:]
    assert list(first.getdata()) != list(second.getdata())
    assert "Module: reference_only" in result.infotexts[1] and "Module: reference_adain," in result.infotexts[2]


def test_reference_on_a_9_channel_inpainting_model_feeds_its_write_pass_a_mask_and_latents(tmp_path,
                                                                                       tiny_inpaint_checkpoint):
    """The write pass of a 9-channel UNet gets a zero mask and the reference latents as its extra channels (as the
    extension does); the UNet would refuse 4 channels."""
    from modules.pipeline.img2img_request import Img2ImgRequest

    app = make_app(tmp_path, tiny_inpaint_checkpoint, "--precision", "full")
    widths = []
    unet = app.models.get(None).unet
    hook = unet.conv_in.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    base = dict(prompt="a red ball", steps=3, width=64, height=64, seed=5, sampler_name="Euler",
                denoising_strength=0.9, init_images=(reference_image().transpose(Image.FLIP_LEFT_RIGHT),), mask=mask)
    try:
        plain = np.asarray(app.img2img(Img2ImgRequest(**base)).images[0], float)
        calls = len(widths)
        steered = np.asarray(app.img2img(Img2ImgRequest(**base, controlnet_units=(ref_unit("reference_adain"),)))
                             .images[0], float)
    finally:
        hook.remove()
    assert set(widths) == {9} and len(widths) == 3 * calls  # a write pass before each real call
    assert np.abs(plain - steered).max() > 0
