"""A1111's sampler objects: `sd_samplers.all_samplers_map` is one dict extensions add rows to, `create_sampler`
builds a row's object through its constructor, and a `model_wrap_cfg` whose `combine_denoised` an extension
overrides replaces the guidance combination at every step (as sd-dynamic-thresholding does: a row named
"<sampler>_dynthres<N>" added in process_batch, p.sampler_name set to it, removed in postprocess_batch)."""
from __future__ import annotations

import importlib
import textwrap

import numpy as np
import pytest

from modules.pipeline.request import GenerationRequest
from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

BASE = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=7,
            sampler_name="Euler", cfg_scale=5.0)

SCRIPT = '''
import torch
from modules import scripts, sd_samplers, sd_samplers_common
from modules.sd_samplers_kdiffusion import CFGDenoiserKDiffusion

CALLS = []
ENABLED = [False]


class HalfGuidance(CFGDenoiserKDiffusion):
    def __init__(self, sampler):
        super().__init__(sampler)

    def combine_denoised(self, x_out, conds_list, uncond, cond_scale):
        CALLS.append((self.step, self.total_steps, tuple(x_out.shape), conds_list, uncond.shape[0], cond_scale))
        uncond_rows = x_out[-uncond.shape[0]:]
        return uncond_rows + (x_out[:uncond.shape[0]] - uncond_rows) * (cond_scale * 0.5)


class Script(scripts.Script):
    def title(self):
        return "half guidance"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process_batch(self, p, *args, **kwargs):
        if not ENABLED[0]:
            return
        original = sd_samplers.all_samplers_map[p.sampler_name]

        def constructor(model):
            sampler = original.constructor(model)
            sampler.model_wrap_cfg = HalfGuidance(sampler)
            return sampler

        p.orig_sampler_name = p.sampler_name
        p.sampler_name = p.sampler_name + "_half1"
        sd_samplers.all_samplers_map[p.sampler_name] = sd_samplers_common.SamplerData(
            p.sampler_name, constructor, original.aliases, original.options)
        p.extra_generation_params["Half guidance"] = True

    def postprocess_batch(self, p, *args, **kwargs):
        if not hasattr(p, "orig_sampler_name"):
            return
        del sd_samplers.all_samplers_map[p.sampler_name]
        p.sampler_name = p.orig_sampler_name
        del p.orig_sampler_name
'''


@pytest.fixture(scope="module")
def half_app(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("samplers")
    folder = root / "half_guidance"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "half_guidance.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    app = make_app(root / "data", tiny_checkpoint, "--nowebui")
    start(app, [("half_guidance", folder)])
    yield app
    app.jobs.close()
    stop(app)


def module(app):
    from modules.extensions.compat import scripts

    return next(d.module for d in scripts.scripts_data if d.path.endswith("half_guidance.py"))


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16)


def test_rows_have_constructors_and_create_sampler_builds_their_objects(half_app):
    from modules import sd_samplers
    kdiffusion = importlib.import_module("modules.sd_samplers_kdiffusion")  # A1111 modules, made at run time
    CFGDenoiserKDiffusion, KDiffusionSampler = kdiffusion.CFGDenoiserKDiffusion, kdiffusion.KDiffusionSampler
    CompVisSampler = importlib.import_module("modules.sd_samplers_timesteps").CompVisSampler

    euler = sd_samplers.create_sampler("Euler", None)
    assert isinstance(euler, KDiffusionSampler) and euler.config.name == "Euler"
    assert isinstance(euler.model_wrap_cfg, CFGDenoiserKDiffusion) and euler.model_wrap_cfg.sampler is euler
    assert isinstance(sd_samplers.create_sampler("DDIM", None), CompVisSampler)
    assert sd_samplers.all_samplers_map is sd_samplers.all_samplers_map  # one dict, as A1111's
    with pytest.raises(ValueError, match="bad sampler name"):
        sd_samplers.create_sampler("no such sampler", None)


def test_an_added_row_with_its_own_combine_denoised_guides_every_step(half_app):
    from modules import sd_samplers
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    mod = module(half_app)
    plain = half_app.txt2img(GenerationRequest(**BASE))
    mod.ENABLED[0] = True
    try:
        changed = half_app.txt2img(GenerationRequest(**BASE))
    finally:
        mod.ENABLED[0] = False
    assert FAILURES.failures == []
    assert [c[0] for c in mod.CALLS] == [0, 1, 2]  # the override ran at every step, with A1111's step count
    assert {(c[1], c[2], str(c[3]), c[4], c[5]) for c in mod.CALLS} == {(3, (2, 4, 8, 8), "[[(0, 1.0)]]", 1, 5.0)}
    assert np.abs(pixels(changed) - pixels(plain)).max() > 8  # half the guidance: a different picture
    assert "Half guidance: True" in changed.infotexts[0] and "Sampler: Euler" in changed.infotexts[0]
    assert "Euler_half1" not in sd_samplers.all_samplers_map  # its postprocess_batch removed it again
    mod.CALLS.clear()
    again = half_app.txt2img(GenerationRequest(**BASE))
    assert mod.CALLS == [] and np.array_equal(pixels(again), pixels(plain))


def test_the_plain_combination_equals_the_cores(half_app):
    """The base class's combine_denoised is A1111's maths: for composable prompts (AND) too."""
    import torch

    from modules.sampling.cfg import MultiCond, _combine

    # an A1111 module, made at run time by the compat layer
    CFGDenoiserKDiffusion = importlib.import_module("modules.sd_samplers_kdiffusion").CFGDenoiserKDiffusion

    x_out = torch.randn(5, 4, 2, 2)  # image 0: rows 0, 1; image 1: row 2; uncond rows 3, 4
    parts = (((0, 0.7), (1, 0.3)), ((2, 1.0),))
    wrap = CFGDenoiserKDiffusion(None)
    ours = wrap.combine_denoised(x_out, [list(p) for p in parts], torch.zeros(2, 77, 8), 6.0)
    core = _combine(x_out, MultiCond(torch.zeros(3, 77, 8), parts), x_out[-2:], 6.0)
    assert torch.allclose(ours, core, atol=1e-5)


def test_model_hijack_layers_are_the_loaded_models_modules(half_app):
    """Asymmetric tiling patches `_conv_forward` of the Conv2d layers it finds in `model_hijack.layers`."""
    import torch

    from modules import sd_hijack

    half_app.txt2img(GenerationRequest(**BASE))  # a model is loaded
    model = half_app.services.models.current
    layers = sd_hijack.model_hijack.layers
    convs = [m for m in layers if type(m) is torch.nn.Conv2d]
    assert layers[0] is model.unet and any(m is model.vae for m in layers) and convs
    plain = pixels(half_app.txt2img(GenerationRequest(**BASE)))
    def tile_x(self, x, weight, bias):
        pad = self._reversed_padding_repeated_twice  # (left, right, top, bottom)
        x = torch.nn.functional.pad(x, (pad[0], pad[1], 0, 0), mode="circular")
        x = torch.nn.functional.pad(x, (0, 0, pad[2], pad[3]), mode="constant")
        return torch.nn.functional.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)

    for conv in convs:  # circular padding on X only, as the extension does
        conv._conv_forward = tile_x.__get__(conv, torch.nn.Conv2d)
    try:
        tiled = pixels(half_app.txt2img(GenerationRequest(**BASE)))
    finally:
        for conv in convs:
            del conv._conv_forward
    assert np.abs(tiled - plain).max() > 8
