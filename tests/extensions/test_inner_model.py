"""A1111's sampler object holds the model as a k_diffusion denoiser (`model_wrap_cfg.inner_model`, a
`CompVisDenoiser`); extensions replace its `forward` and call the original with rows of their choosing, as Tiled
Diffusion does with batches of latent tiles. Each model call of a generation goes through such a replacement, with the
conds in A1111's dict layout, and the original reaches Easel's UNet with the rows it is given."""
from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np
import pytest
import torch

from modules.pipeline.request import GenerationRequest
from tests.extensions.probe_scripts import probe_extension, probe_module

BASE: dict[str, Any] = dict(prompt="a red circle", negative_prompt="blue", steps=3, width=64, height=64, seed=5,
            sampler_name="Euler", cfg_scale=6.0)

SCRIPT = '''
import torch
from modules import scripts, sd_samplers

MODE = ["off"]
SEEN = []


def two_tiles(forward):
    """The left and right halves of the latent denoised as one batch of two tiles."""
    def tiled(x, sigma, cond):
        n, half = x.shape[0], x.shape[-1] // 2
        text, image = cond["c_crossattn"][0], cond["c_concat"][0]
        batch = {"c_crossattn": [torch.cat([text, text])], "c_concat": [torch.cat([image, image])]}
        out = forward(torch.cat([x[..., :half], x[..., half:]]), torch.cat([sigma, sigma]), cond=batch)
        SEEN.append((n, tuple(out.shape)))
        return torch.cat([out[:n], out[n:]], dim=-1)
    return tiled


def unchanged(forward):
    def same(x, sigma, cond):
        image = cond["c_concat"][0]
        SEEN.append((sorted(cond), tuple(cond["c_crossattn"][0].shape), tuple(image.shape), bool(image.any())))
        return forward(x, sigma, cond=cond)
    return same


class Script(scripts.Script):
    def title(self):
        return "tile probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        if MODE[0] == "off":
            return
        self.original = original = sd_samplers.create_sampler

        def create(name, model):
            if MODE[0] == "broken":
                raise RuntimeError("the probe broke")
            sampler = original(name, model)
            inner = sampler.model_wrap_cfg.inner_model
            inner.forward = (two_tiles if MODE[0] == "tiles" else unchanged)(inner.forward)
            return sampler

        sd_samplers.create_sampler = create

    def postprocess(self, p, processed, *args):
        if MODE[0] != "off":
            sd_samplers.create_sampler = self.original
'''


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory, tiny_checkpoint):
    with probe_extension(tmp_path_factory.mktemp("inner_model"), tiny_checkpoint, "tile_probe", SCRIPT) as app:
        yield app


def probe():

    return probe_module("tile_probe")


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0].convert("RGB")).astype(np.int16)


def run(app, mode: str, **fields):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    mod = probe()
    mod.MODE[0], mod.SEEN[:] = mode, []
    try:
        result = app.txt2img(GenerationRequest(**{**BASE, **fields}))
    finally:
        mod.MODE[0] = "off"
    assert FAILURES.failures == []
    return result, list(mod.SEEN)


def test_a_forward_that_calls_the_original_unchanged_changes_nothing(probe_app):
    plain, _ = run(probe_app, "off")
    same, seen = run(probe_app, "unchanged")
    assert len(seen) == BASE["steps"]  # Euler: one model call per step
    # cond rows then uncond rows, A1111's SD 1.x layout; txt2img's image cond is zeros [N, 5, 1, 1]
    assert all(keys == ["c_concat", "c_crossattn"] and text[0] == 2 and image == (2, 5, 1, 1) and not any_set
               for keys, text, image, any_set in seen)
    assert np.abs(pixels(same) - pixels(plain)).max() <= 2


def test_a_forward_that_batches_tiles_denoises_the_latent_tile_by_tile(probe_app):
    plain, _ = run(probe_app, "off")
    tiled, seen = run(probe_app, "tiles")
    assert seen == [(2, (4, 4, 8, 4))] * BASE["steps"]  # both tiles of cond and uncond rows in one call
    assert np.abs(pixels(tiled) - pixels(plain)).max() > 2  # each half saw only itself



def test_a_timestep_samplers_inner_model_takes_timesteps_and_gives_eps(probe_app):
    """DDIM's sampler object holds a timestep denoiser (x_t, t) → eps, as A1111's; its calls go the same way."""
    from modules.extensions.compat.sd_samplers_timesteps import CompVisTimestepsDenoiser

    plain, _ = run(probe_app, "off", sampler_name="DDIM")
    same, seen = run(probe_app, "unchanged", sampler_name="DDIM")
    assert len(seen) == BASE["steps"] and all(keys == ["c_concat", "c_crossattn"] for keys, *_ in seen)
    assert np.abs(pixels(same) - pixels(plain)).max() <= 8  # A1111's timestep maths around the same UNet calls
    tiled, seen = run(probe_app, "tiles", sampler_name="DDIM")
    assert seen == [(2, (4, 4, 8, 4))] * BASE["steps"]
    assert np.abs(pixels(tiled) - pixels(plain)).max() > 2
    from modules import sd_samplers, shared

    inner = sd_samplers.create_sampler("DDIM", shared.sd_model).model_wrap_cfg.inner_model
    assert isinstance(inner, CompVisTimestepsDenoiser) and inner.inner_model.sd_checkpoint_info is not None

def test_a_failing_create_sampler_is_reported_under_its_extension(probe_app):
    from modules.extensions.compat.reporting import FAILURES

    plain = pixels(run(probe_app, "off")[0])
    probe().MODE[0] = "broken"
    try:
        result = probe_app.txt2img(GenerationRequest(**BASE))  # goes on with the plain sampler object
    finally:
        probe().MODE[0] = "off"
    assert [f.extension for f in FAILURES.failures] == ["tile_probe"]
    assert np.abs(pixels(result) - plain).max() <= 2


def test_the_inner_model_is_the_loaded_model_as_a_k_diffusion_denoiser(probe_app):
    from modules import sd_samplers, shared

    probe_app.txt2img(GenerationRequest(**BASE))  # a loaded model
    for name in [n for n in list(sys.modules) if n == "k_diffusion" or n.startswith("k_diffusion.")]:
        sys.modules.pop(name)  # the name resolves to Easel's views even where a k-diffusion package is installed
    external = importlib.import_module("k_diffusion.external")
    utils = importlib.import_module("k_diffusion").utils
    inner = sd_samplers.create_sampler("Euler", shared.sd_model).model_wrap_cfg.inner_model
    kind = external.CompVisVDenoiser if shared.sd_model.parameterization == "v" else external.CompVisDenoiser
    assert isinstance(inner, kind) and inner.inner_model.sd_checkpoint_info is not None
    sigmas = inner.get_sigmas(4)
    assert sigmas.shape == (5,) and sigmas[-1] == 0 and bool((sigmas[:-1].diff() < 0).all())
    assert torch.allclose(inner.t_to_sigma(inner.sigma_to_t(sigmas[:-1])), sigmas[:-1], rtol=1e-3)
    assert utils.append_dims(sigmas, 4).shape == (5, 1, 1, 1)
    with pytest.raises(RuntimeError, match="inside a generation"):
        inner(torch.zeros(1, 4, 8, 8), sigmas[:1], cond={})


def test_ldm_model_class_names_and_the_wrapper_facts(probe_app):
    from modules import shared

    probe_app.txt2img(GenerationRequest(**BASE))
    ddpm = importlib.import_module("ldm.models.diffusion.ddpm")
    model = shared.sd_model
    assert isinstance(model, ddpm.LatentDiffusion)  # an SD 1.x model, as A1111's
    assert model.cond_stage_key == "txt" and model.model.conditioning_key == "crossattn"
    assert model.parameterization in ("eps", "v")
    with pytest.raises(AttributeError, match="diffusers"):
        _ = ddpm.DiffusionWrapper


APPLY_SCRIPT = '''
import torch
from modules import scripts, shared

MODE = ["off"]
SEEN = []


class Script(scripts.Script):
    def title(self):
        return "apply probe"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def process(self, p, *args):
        if MODE[0] == "off":
            return
        shared.sd_model.apply_model_saved = shared.sd_model.apply_model
        shared.sd_model.apply_model = self.apply

    def apply(self, x, t, cond):
        SEEN.append((tuple(x.shape), tuple(t.shape), sorted(cond)))
        own = shared.sd_model.apply_model_saved
        if MODE[0] != "halves":
            return own(x, t, cond)
        half = x.shape[-1] // 2
        return torch.cat([own(x[..., :half], t, cond), own(x[..., half:], t, cond)], dim=-1)

    def postprocess(self, p, processed, *args):
        if hasattr(shared.sd_model, "apply_model_saved"):
            shared.sd_model.apply_model = shared.sd_model.apply_model_saved
            del shared.sd_model.apply_model_saved
'''


@pytest.fixture(scope="module")
def apply_app(tmp_path_factory, tiny_checkpoint):
    with probe_extension(tmp_path_factory.mktemp("apply_model"), tiny_checkpoint, "apply_probe", APPLY_SCRIPT) as app:
        yield app


def run_apply(app, mode: str):
    from modules.extensions.compat.reporting import FAILURES

    FAILURES.clear()
    mod = probe_module("apply_probe")
    mod.MODE[0], mod.SEEN[:] = mode, []
    try:
        result = app.txt2img(GenerationRequest(**BASE))
    finally:
        mod.MODE[0] = "off"
    assert FAILURES.failures == []
    return pixels(result), list(mod.SEEN)


def test_a_replaced_apply_model_makes_each_model_call(apply_app):
    """Tiled Diffusion's Mixture of Diffusers replaces shared.sd_model.apply_model and puts it back after."""
    from modules import shared

    plain, _ = run_apply(apply_app, "off")
    same, seen = run_apply(apply_app, "watch")
    assert seen == [((2, 4, 8, 8), (2,), ["c_concat", "c_crossattn"])] * BASE["steps"]
    assert np.abs(same - plain).max() <= 8  # k-diffusion's maths around the same UNet calls
    halves, _ = run_apply(apply_app, "halves")
    assert np.abs(halves - plain).max() > 12
    again, _ = run_apply(apply_app, "off")  # its own apply_model back: Easel's call again
    assert np.abs(again - plain).max() <= 2
    assert not hasattr(shared.sd_model, "apply_model_saved")
    shared.sd_model.kept = 1  # what extensions set stays with the loaded model, as on A1111's one model object
    assert shared.sd_model.kept == 1
    del shared.sd_model.kept
    assert not hasattr(shared.sd_model, "kept")

