"""The refiner switch (A1111's Refiner checkpoint + "Switch at") on two tiny SD 1.x models: no-op cases are bit for
bit the plain run, a switch equals a run built by hand from the project's sampler functions, infotext keys round
trip, and the hires pass option picks the passes that switch."""
import shutil

import numpy as np
import pytest
import torch

from modules.api.convert import fill_from_infotext
from modules.errors import InvalidInput
from modules.imaging.infotext import parse_infotext
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.job import Job
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.request import GenerationRequest
from modules.pipeline.sample import model_denoiser
from modules.pipeline.seeds import plan_images
from modules.pipeline.steps import choose_sampler, make_rng
from modules.pipeline.txt2img import run_txt2img
from modules.pipeline.img2img import run_img2img
from modules.pipeline.hooks import NoHooks
from modules.sampling.cfg import CFGDenoiser
from modules.sampling.registry import scale_initial_noise
from modules.ui.paste import fields_from_params
from tests.fixtures.tiny_model import make_tiny_checkpoint
from tests.pipeline.conftest import make_app

MAIN, REFINER = "tiny-sd1-0", "tiny-refiner"
BASE = dict(prompt="a red circle", negative_prompt="blue", steps=4, width=64, height=64, seed=7,
            sampler_name="Euler", override_settings={"sd_model_checkpoint": MAIN})


@pytest.fixture(scope="session")
def refiner_checkpoint(tmp_path_factory):
    """A second tiny SD 1.x model with other weights (seed 1)."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-refiner"), seed=1, name=REFINER)


@pytest.fixture
def app(tmp_path, tiny_checkpoint, refiner_checkpoint):
    app = make_app(tmp_path, tiny_checkpoint)
    for file in refiner_checkpoint.parent.glob(REFINER + ".*"):
        shutil.copy(file, tmp_path / "models" / "Stable-diffusion" / file.name)
    yield app
    app.jobs.close()


class Capture(NoHooks):
    """Keeps the sampled latents of each batch (post_sample)."""

    def __init__(self):
        self.latents = []

    def call(self, point, ctx, **kwargs):
        super().call(point, ctx, **kwargs)
        if point == "post_sample":
            self.latents.append(kwargs["samples"].value.clone())


def run(app, req, **settings):
    """(result, final latents [1, 4, 8, 8]) of a txt2img run with these settings."""
    hooks = Capture()
    opts = app.options.snapshot({**req.override_settings, **settings})
    result = run_txt2img(app.services, req, opts, Job(), hooks)
    return result, hooks.latents[0]


def pixels(image):
    return np.asarray(image.convert("RGB"))


def test_no_switch_cases_are_bit_identical_to_no_refiner(app):
    plain, plain_latents = run(app, GenerationRequest(**BASE))
    for refiner, at in ((REFINER, 1.0), (None, 0.5), ("None", 0.5), ("", 0.5), (MAIN, 0.5)):
        result, latents = run(app, GenerationRequest(**BASE, refiner_checkpoint=refiner, refiner_switch_at=at))
        assert torch.equal(latents, plain_latents), (refiner, at)
        assert np.array_equal(pixels(result.images[0]), pixels(plain.images[0]))
        assert "Refiner" not in parse_infotext(result.infotexts[0])


def first_switch_step(app, sigmas, at):
    """A1111's rule written out: the first step whose sigma's nearest training timestep t has (999 - t) / 1000 ≥ at."""
    alphas = app.services.models.get(MAIN).alphas_cumprod.float()
    train = ((1 - alphas) / alphas) ** 0.5  # [1000]
    for i, sigma in enumerate(sigmas[:-1]):
        t = int(torch.argmin((train - sigma).abs()))
        if (999 - t) / 1000 >= at:
            return i
    return len(sigmas) - 1


def hand_built(app, req, opts, switch_step=None, at=None):
    """Euler over the same sigmas and noise: steps [0, k) with the main model and its conditioning, steps [k, n)
    with the refiner and the prompts encoded by the refiner's text encoder."""
    services = app.services
    main = services.models.get(MAIN)
    refiner = services.models.refiner(REFINER)
    choice = choose_sampler(services.samplers, req, opts)
    sigmas, _ = services.samplers.build_sigmas(choice.spec, choice.scheduler, req.steps,
                                               model_denoiser(main, choice, True), opts)
    k = switch_step if switch_step is not None else first_switch_step(app, sigmas, at)
    batch = plan_images(req.prompt, req.negative_prompt, req.seed, req.seed, 0.0, 1, 1).batch(0)
    x = scale_initial_noise(choice.spec, make_rng((4, 8, 8), batch, req, opts, main.device).next(), sigmas)
    for model, part, start in ((main, sigmas[:k + 1], 0), (refiner, sigmas[k:], k)):
        conds = step_conditioning(services.conditioning, model, batch, 1, req.steps, opts, True)
        cfg = CFGDenoiser(model_denoiser(model, choice, True), conds.cond, conds.uncond, req.cfg_scale, step=start)
        with torch.inference_mode():
            x = choice.spec.function(cfg, x, part, extra_args={}, disable=True, **choice.kwargs)
    return x, k


@pytest.mark.parametrize("by_steps", [False, True])
def test_switch_at_half_equals_a_hand_built_run(app, by_steps):
    req = GenerationRequest(**BASE, refiner_checkpoint=REFINER, refiner_switch_at=0.5)
    result, latents = run(app, req, refiner_switch_by_sample_steps=by_steps)
    _, plain = run(app, GenerationRequest(**BASE))
    opts = app.options.snapshot(dict(req.override_settings))
    expected, k = hand_built(app, req, opts, switch_step=2 if by_steps else None, at=0.5)
    assert 0 < k < req.steps  # the switch falls inside the run, so both models take part
    scale = float(expected.abs().max())
    assert float((latents - expected).abs().max()) <= 1e-5 * scale
    assert float((latents - plain).abs().max()) > 1e-2 * scale  # the refiner changed the picture
    fields = parse_infotext(result.infotexts[0])
    refiner = app.services.models.refiner(REFINER).checkpoint
    assert fields["Refiner"] == f"{REFINER} [{refiner.shorthash}]" and fields["Refiner switch at"] == "0.5"
    assert fields["Refiner switch by sampling steps"] is by_steps or fields["Refiner switch by sampling steps"] == \
        str(by_steps)


def test_infotext_round_trip_pastes_the_refiner_back(app):
    req = GenerationRequest(**BASE, refiner_checkpoint=REFINER, refiner_switch_at=0.5)
    result, latents = run(app, req)
    text = result.infotexts[0]
    filled = fill_from_infotext({"override_settings": {}}, set(), text,
                                {"refiner_checkpoint", "refiner_switch_at", "steps", "seed", "prompt"})
    assert filled["refiner_switch_at"] == 0.5 and filled["refiner_checkpoint"].startswith(REFINER + " [")
    pasted = fields_from_params(parse_infotext(text))
    assert pasted["refiner_checkpoint"] == filled["refiner_checkpoint"] and pasted["refiner_switch_at"] == 0.5
    again, again_latents = run(app, GenerationRequest(**{**BASE, "refiner_checkpoint": filled["refiner_checkpoint"],
                                                         "refiner_switch_at": filled["refiner_switch_at"]}))
    assert torch.equal(again_latents, latents) and again.infotexts[0] == text


def test_unknown_refiner_and_bad_switch_at_are_named(app):
    with pytest.raises(InvalidInput, match=f"refiner_checkpoint: unknown checkpoint 'nope'.*{REFINER}"):
        run(app, GenerationRequest(**BASE, refiner_checkpoint="nope", refiner_switch_at=0.5))
    with pytest.raises(InvalidInput, match="refiner_switch_at"):
        run(app, GenerationRequest(**BASE, refiner_checkpoint=REFINER, refiner_switch_at=1.5))


HIRES = dict(enable_hr=True, hr_scale=1.5, hr_second_pass_steps=3)


def test_hires_refiner_pass_picks_the_passes_that_switch(app):
    images, notes = {}, {}
    for mode in ("first pass", "second pass", "both passes", None):
        refiner = {} if mode is None else dict(refiner_checkpoint=REFINER, refiner_switch_at=0.5)
        result, latents = run(app, GenerationRequest(**BASE, **HIRES, **refiner, denoising_strength=0.9),
                              **({} if mode is None else {"hires_fix_refiner_pass": mode}))
        images[mode], fields = latents, parse_infotext(result.infotexts[0])
        notes[mode] = (fields.get("Hires refiner"), "Refiner" in fields)
    assert notes == {"first pass": ("first pass", True), "second pass": (None, True),
                     "both passes": ("both passes", True), None: (None, False)}
    keys = list(images)
    assert all(not torch.equal(images[a], images[b]) for a in keys for b in keys if a != b)


def test_strength_zero_hires_pass_never_switches_in_second_pass_mode(app):
    """With "second pass" the first pass runs on the main model; a hires pass at strength 0 samples nothing, so the
    result is the plain run's and no Refiner key is written. "first pass" switches before the upscale."""
    plain, plain_latents = run(app, GenerationRequest(**BASE, **HIRES, denoising_strength=0.0))
    req = GenerationRequest(**BASE, **HIRES, denoising_strength=0.0, refiner_checkpoint=REFINER, refiner_switch_at=0.5)
    second, second_latents = run(app, req)
    assert torch.equal(second_latents, plain_latents) and "Refiner" not in parse_infotext(second.infotexts[0])
    first, first_latents = run(app, req, hires_fix_refiner_pass="first pass")
    assert not torch.equal(first_latents, plain_latents) and "Refiner" in parse_infotext(first.infotexts[0])


def test_img2img_switches_too(app):
    init = app.txt2img(GenerationRequest(**BASE)).images[0]
    results = {}
    for refiner in (None, REFINER):
        req = Img2ImgRequest(**BASE, init_images=(init,), denoising_strength=0.8, refiner_checkpoint=refiner,
                             refiner_switch_at=0.5)
        results[refiner] = run_img2img(app.services, req, app.options.snapshot(dict(req.override_settings)), Job())
    assert not np.array_equal(pixels(results[None].images[0]), pixels(results[REFINER].images[0]))
    assert parse_infotext(results[REFINER].infotexts[0])["Refiner switch at"] == "0.5"
    assert "Refiner" not in parse_infotext(results[None].infotexts[0])


def test_the_manager_keeps_one_refiner_beside_the_main_model(app):
    models = app.services.models
    main = models.get(MAIN)
    refiner = models.refiner(REFINER)
    assert models.current is main and models.held_refiner is refiner and models.refiner(REFINER) is refiner
    assert models.refiner(MAIN) is main  # the main model as its own refiner: nothing loads
    assert models.get(REFINER) is refiner and models.held_refiner is None  # promoted, not read again
    models.unload()
    assert models.current is None and models.held_refiner is None


def test_each_image_of_a_batch_equals_its_single_run(app):
    """The switch swaps the conditioning of every row (cond and uncond of each image) at once."""
    refiner = dict(refiner_checkpoint=REFINER, refiner_switch_at=0.5)
    batch = run_txt2img(app.services, GenerationRequest(**{**BASE, "seed": 7}, batch_size=2, **refiner),
                        app.options.snapshot(dict(BASE["override_settings"])), Job())
    second = run_txt2img(app.services, GenerationRequest(**{**BASE, "seed": 8}, **refiner),
                         app.options.snapshot(dict(BASE["override_settings"])), Job())
    assert np.array_equal(pixels(batch.images[1]), pixels(second.images[0]))
    assert "Refiner: " in batch.infotexts[1]


def test_the_prompts_loras_patch_the_refiner_once_it_takes_over(app):
    """A1111's Lora extension patches whatever model runs: the refiner carries the prompt's LoRA from its first
    call; after the job both models have their files' weights."""
    from tests.fixtures.tiny_lora import lora_tensors, write_lora

    main = app.models.get(MAIN)
    write_lora(app.services.loras.folder / "grain.safetensors", lora_tensors(main, seed=1, scale=0.5))
    refiner = app.models.refiner(REFINER)
    clean = {id(m): {k: v.detach().clone() for k, v in m.unet.state_dict().items()} for m in (main, refiner)}
    patched: dict[int, list[bool]] = {id(main): [], id(refiner): []}
    originals = {}
    for model in (main, refiner):
        originals[id(model)] = forward = model.engine.unet_forward

        def watched(*args, model=model, forward=forward, **kwargs):
            now = model.unet.state_dict()
            patched[id(model)].append(any(not torch.equal(now[k], v) for k, v in clean[id(model)].items()))
            return forward(*args, **kwargs)

        model.engine.unet_forward = watched
    try:
        result = app.txt2img(GenerationRequest(**{**BASE, "prompt": "a red circle <lora:grain:1>"},
                                               refiner_checkpoint=REFINER, refiner_switch_at=0.5))
    finally:
        for model in (main, refiner):
            del model.engine.unet_forward
    assert [len(patched[id(main)]), len(patched[id(refiner)])] == [2, 2]
    assert all(patched[id(main)]) and all(patched[id(refiner)])
    assert "Refiner: tiny-refiner" in result.infotexts[0] and not result.warnings
    for model in (main, refiner):
        now = model.unet.state_dict()
        assert all(torch.equal(now[k], v) for k, v in clean[id(model)].items())


def test_a_lora_of_another_family_is_left_out_of_the_refiner_with_a_warning():
    """An SDXL LoRA on the SDXL refiner would fit in part; Easel leaves it out of the refiner and says so."""
    from types import SimpleNamespace

    from modules.pipeline.extra_networks import NetworkRun

    applied = []
    models = SimpleNamespace(apply_loras=lambda model, loras: applied.append(loras) or [])
    run = NetworkRun(SimpleNamespace(models=models, loras=None, embeddings=None), None, {})
    layer = "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k"
    network = SimpleNamespace(info=SimpleNamespace(name="xl-detail", path="xl-detail.safetensors"),
                              layers={layer: SimpleNamespace(delta_2d=lambda: (640, 2048))})  # [out, in]
    run._active = [(network, 1.0, 1.0)]
    refiner = SimpleNamespace(checkpoint=SimpleNamespace(name="sdxl-refiner"),
                              lora_module_map=lambda: {layer: ("unet", torch.nn.Linear(1280, 640))})
    run.activate_refiner(refiner)
    assert applied == [[]]
    assert run.warnings == ["<lora:xl-detail> was made for another model family than the refiner sdxl-refiner: "
                            "the refiner ran without it"]
