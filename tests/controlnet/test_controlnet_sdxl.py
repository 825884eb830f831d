"""SDXL ControlNets: the file layouts users have (diffusers folders, lone diffusers-layout files at full, mid and
small depth, original-layout files), their family read from the file, SDXL's added conditioning reaching the
ControlNet, parity with diffusers' `StableDiffusionXLControlNetPipeline` (float32), and the refusals across
families."""
from __future__ import annotations

import pytest
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionXLControlNetPipeline, StableDiffusionXLPipeline

from modules.controlnet.model import load_controlnet
from modules.controlnet.shapes import read_encoder
from modules.controlnet.convert import file_layout
from modules.errors import InvalidInput
from modules.models.safe_load import open_checkpoint
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.request import GenerationRequest
from modules.pipeline.seeds import plan_images
from tests.controlnet.test_controlnet_parity import control_image, easel_latents, unit
from tests.fixtures.tiny_controlnet import make_tiny_controlnet
from tests.fixtures.tiny_sdxl import diffusers_sdxl_folder, make_tiny_sdxl_checkpoint
from tests.fixtures.tiny_sdxl_controlnet import make_sdxl_controlnet, tiny_sdxl_controlnet
from tests.pipeline.conftest import euler_denoiser, make_app

STEPS = 8
SEED = 42


@pytest.fixture(scope="module")
def sdxl_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("cn-sdxl")
    checkpoint = make_tiny_sdxl_checkpoint(root / "src")
    app = make_app(root / "app", checkpoint, "--precision", "full")
    folder = app.paths.models_dir / "ControlNet"
    make_sdxl_controlnet(folder, "diffusers_xl_tiny_folder")
    make_sdxl_controlnet(folder, "diffusers_xl_tiny_mid", size="mid", layout="diffusers")
    make_sdxl_controlnet(folder, "sai_xl_tiny_original", layout="original")
    make_tiny_controlnet(folder, "control_sd15_tiny")
    return app


def request(units=(), width: int = 64, height: int = 64) -> GenerationRequest:
    return GenerationRequest(prompt="a red square", negative_prompt="blue", steps=STEPS, width=width, height=height,
                             seed=SEED, sampler_name="Euler", cfg_scale=7.0, controlnet_units=tuple(units))


def _same(net, reference) -> None:
    ours, theirs = net.state_dict(), reference.state_dict()
    assert set(ours) == set(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


@pytest.mark.parametrize("size", ["full", "mid", "small"])
@pytest.mark.parametrize("layout", ["folder", "diffusers", "original"])
def test_every_layout_and_depth_loads_exactly(tmp_path, sdxl_app, size, layout):
    """Without a config.json the architecture comes from the file's shapes, so diffusers' mid and small SDXL
    ControlNets (fewer transformer layers than the checkpoint) load too, every tensor where diffusers has it."""
    unet = sdxl_app.models.get(None).unet
    path = make_sdxl_controlnet(tmp_path, f"cn_{size}_{layout}", size=size, layout=layout)
    control = load_controlnet(path, "x", unet.config, torch.float32, "cpu")
    _same(control.net, tiny_sdxl_controlnet(size))
    assert control.net.config.addition_embed_type == "text_time"


@pytest.mark.parametrize("layout", ["diffusers", "original"])
def test_the_family_is_read_from_the_file_header(tmp_path, layout):
    sdxl = make_sdxl_controlnet(tmp_path, "xl", layout=layout)
    sd1 = make_tiny_controlnet(tmp_path, "sd1", fmt="safetensors", with_yaml=False)
    families = []
    for path in (sdxl, sd1):
        source = open_checkpoint(path)
        try:
            names = source.keys()
            kind, prefix = file_layout(names)
            families.append(read_encoder({k: source.shape(k) for k in names}, kind, prefix).family)
        finally:
            source.close()
    assert families == ["sdxl", "sd"]


def test_the_controlnet_gets_the_pooled_text_and_time_ids(sdxl_app):
    """An SDXL ControlNet cannot run without added_cond_kwargs; this checks what reaches it is the UNet's."""
    model = sdxl_app.models.get(None)
    seen = {}
    name = sdxl_app.services.controlnets.find("diffusers_xl_tiny_folder", "m").name
    control = sdxl_app.services.controlnets.load(sdxl_app.services.controlnets.find(name, "m"), model.unet,
                                                 model.dtype, model.device, "m")
    def record(module, args, kwargs):
        seen.setdefault("added", kwargs.get("added_cond_kwargs"))

    hook = control.net.register_forward_pre_hook(record, with_kwargs=True)
    try:
        easel_latents(sdxl_app, request([unit(name)], width=64, height=96))
    finally:
        hook.remove()
    added = seen["added"]
    assert added["time_ids"][0].tolist() == [96.0, 64.0, 0.0, 0.0, 96.0, 64.0]  # height, width, crop, target
    assert added["text_embeds"].shape[-1] == 40 and added["text_embeds"].abs().max() > 0


@pytest.fixture(scope="module")
def pipe(sdxl_app, tmp_path_factory):
    """diffusers' SDXL ControlNet pipeline on the same checkpoint (its own single-file loader) and ControlNet."""
    root = tmp_path_factory.mktemp("cn-sdxl-diffusers")
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="linspace", steps_offset=1)
    folder = diffusers_sdxl_folder(root / "config", "base", scheduler)
    checkpoint = next((sdxl_app.paths.models_dir / "Stable-diffusion").glob("*.safetensors"))
    base = StableDiffusionXLPipeline.from_single_file(str(checkpoint), config=str(folder), local_files_only=True,
                                                      torch_dtype=torch.float32)
    pipe = StableDiffusionXLControlNetPipeline(**{k: v for k, v in base.components.items()
                                                  if k not in ("image_encoder", "feature_extractor")},
                                               controlnet=tiny_sdxl_controlnet("full"))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def diffusers_latents(app, pipe, req: GenerationRequest, scale: float) -> torch.Tensor:
    model = app.models.get(None)
    plan = plan_images(req.prompt, req.negative_prompt, SEED, 0, 0.0, 1, 1)
    conds = step_conditioning(app.services.conditioning, model, plan, 1, req.steps, app.options.snapshot(), True)
    cond, uncond = conds.cond(0).tensor, conds.uncond(0)
    sigmas = app.services.samplers.build_sigmas("Euler", "Automatic", req.steps, euler_denoiser(app, model))[0]
    noise = torch.randn((1, 4, req.height // 8, req.width // 8), generator=torch.Generator().manual_seed(SEED))
    with torch.inference_mode():
        return pipe(prompt_embeds=cond.cross_attn, negative_prompt_embeds=uncond.cross_attn,
                    pooled_prompt_embeds=cond.pooled, negative_pooled_prompt_embeds=uncond.pooled,
                    image=control_image(), latents=noise, sigmas=sigmas.tolist(), guidance_scale=7.0,
                    height=req.height, width=req.width, output_type="latent",
                    controlnet_conditioning_scale=scale).images


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_txt2img_matches_diffusers_sdxl_controlnet_pipeline(sdxl_app, pipe, weight):
    name = "diffusers_xl_tiny_folder"
    ours = easel_latents(sdxl_app, request([unit(name, weight=weight)]))
    theirs = diffusers_latents(sdxl_app, pipe, request(), weight)
    plain = easel_latents(sdxl_app, request())
    assert (ours - plain).abs().max() > 0.05  # the ControlNet really steers
    assert (ours - theirs).abs().max().item() <= 1e-3


def test_weight_zero_is_bit_identical_to_no_controlnet(sdxl_app):
    ours = easel_latents(sdxl_app, request([unit("diffusers_xl_tiny_mid", weight=0.0)]))
    assert torch.equal(ours, easel_latents(sdxl_app, request()))


@pytest.mark.parametrize("name", ["diffusers_xl_tiny_mid", "sai_xl_tiny_original"])
def test_lone_files_steer_the_sdxl_checkpoint(sdxl_app, name):
    plain = easel_latents(sdxl_app, request())
    assert (easel_latents(sdxl_app, request([unit(name)])) - plain).abs().max() > 0.05


def test_an_sd1_controlnet_on_sdxl_is_refused_naming_unit_and_families(sdxl_app):
    with pytest.raises(InvalidInput, match=r"controlnet_units\[0\].model: .*control_sd15_tiny.pth.*is an SD 1.x/2.x "
                                           r"ControlNet; .* is an SDXL model"):
        sdxl_app.txt2img(request([unit("control_sd15_tiny")]))


@pytest.mark.parametrize("layout", ["folder", "diffusers", "original"])
def test_an_sdxl_controlnet_on_sd1_is_refused_naming_unit_and_families(tmp_path, tiny_checkpoint, layout):
    app = make_app(tmp_path / "app", tiny_checkpoint, "--precision", "full")
    make_sdxl_controlnet(app.paths.models_dir / "ControlNet", "diffusers_xl_tiny", layout=layout)
    with pytest.raises(InvalidInput, match=r"controlnet_units\[0\].model: .*diffusers_xl_tiny.*is an SDXL ControlNet;"
                                           r" .* is an SD 1.x/2.x model"):
        app.txt2img(request([unit("diffusers_xl_tiny")]))


def test_reference_colorfix_and_hires_run_on_sdxl(sdxl_app):
    """The reference hooks find SDXL's blocks (its AdaIN block table, fidelity cubed), the colour fix runs beside
    an SDXL tile ControlNet, and the hires pass gives the ControlNet its own size's time ids."""
    from modules.controlnet.units import ControlUnit, ResizeMode

    plain = easel_latents(sdxl_app, request())
    for module, model in (("reference_adain+attn", "None"), ("reference_only", "None"),
                          ("tile_colorfix", "diffusers_xl_tiny_mid")):
        steered = easel_latents(sdxl_app, request([ControlUnit(enabled=True, module=module, model=model,
                                                               image=control_image(),
                                                               resize_mode=ResizeMode.JUST_RESIZE)]))
        assert (steered - plain).abs().max() > 1e-3, module
    hires = GenerationRequest(prompt="a red square", steps=3, width=64, height=64, seed=SEED, sampler_name="Euler",
                              enable_hr=True, hr_scale=1.5, denoising_strength=0.5,
                              controlnet_units=(unit("diffusers_xl_tiny_folder"),))
    assert easel_latents(sdxl_app, hires).shape == (1, 4, 12, 12)


# diffusers/controlnet-canny-sdxl-1.0's architecture fields (its config.json), and the -mid variant's depths
SDXL_FULL = {"block_out_channels": [320, 640, 1280], "layers_per_block": 2, "cross_attention_dim": 2048,
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "transformer_layers_per_block": [1, 2, 10], "mid_block_type": "UNetMidBlock2DCrossAttn",
             "use_linear_projection": True, "addition_embed_type": "text_time",
             "projection_class_embeddings_input_dim": 2816}


@pytest.mark.parametrize("depths", [[1, 2, 10], [0, 0, 1], [0, 0, 0]])
@pytest.mark.parametrize("layout", ["diffusers", "original"])
def test_real_size_sdxl_controlnets_get_their_architecture_from_the_shapes(depths, layout):
    """Full-size SDXL ControlNets on meta tensors (full, and mid/small depths): a lone file's shapes, in either
    layout, give back the architecture, with the real SDXL UNet's config as the base, and the original layout
    converts onto exactly the model's parameters."""
    from accelerate import init_empty_weights
    from diffusers import ControlNetModel, UNet2DConditionModel

    from modules.controlnet import convert
    from modules.models.components import unet_config
    from modules.models.model_config import spec_from_config
    from modules.paths import INSTALL_DIR
    from tests.fixtures.tiny_controlnet import controlnet_key_to_ldm

    import yaml

    spec = spec_from_config(yaml.safe_load((INSTALL_DIR / "configs" / "sd_xl_base.yaml").read_text()),
                            INSTALL_DIR / "configs" / "sd_xl_base.yaml")
    with init_empty_weights():
        unet = UNet2DConditionModel(**unet_config(spec, added_time_ids=True))
        config = {**dict(ControlNetModel.from_unet(unet, load_weights_from_unet=False).config),
                  "transformer_layers_per_block": depths}
        model = ControlNetModel.from_config(config)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if layout == "original":
        shapes = {controlnet_key_to_ldm(k, 2): s for k, s in shapes.items()}
    derived = convert.config_from_shapes(shapes, layout, "", unet.config)
    expected = {**SDXL_FULL, "transformer_layers_per_block": [1, *depths[1:]]}  # level 0 has no attention
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in derived.items() if k in expected} == expected
    if layout == "original":
        original = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
        converted = convert.convert_original(original, derived, "x.safetensors")
        assert {k: tuple(v.shape) for k, v in converted.items()} == {
            k: tuple(v.shape) for k, v in model.state_dict().items()}
