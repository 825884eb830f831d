"""A1111's cfg callbacks (on_cfg_denoiser / on_cfg_denoised / on_cfg_after_cfg) as the core's per-step CFG hooks.

Extensions get A1111's params objects with A1111's values: fresh tensors they may edit in place (A1111 builds
x, sigma and the conds anew for every model call), an image_cond even for txt2img (zeros [N, 5, 1, 1], as A1111's
txt2img conditioning), and as `denoiser` a view with A1111's CFGDenoiser attributes (step, steps, total_steps, p,
mask, nmask, init_latent, inner_model …). What a callback changes is handed back to the core's params.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from modules.extensions.compat import script_callbacks as sc
from modules.extensions.compat.reporting import extension_of, guarded
from modules.sampling.cfg_hooks import CFGHooks


class DenoiserView:
    """A1111's `CFGDenoiser` as extensions read it, over Easel's guidance object (modules/sampling/cfg.py)."""

    image_cfg_scale = None
    padded_cond_uncond = False
    padded_cond_uncond_v0 = False
    mask_before_denoising = False
    cond_scale_miltiplier = 1.0  # A1111's spelling
    need_last_noise_uncond = False
    last_noise_uncond = None

    def __init__(self, cfg, p):
        self._cfg, self.p = cfg, p

    @property
    def step(self) -> int:
        """Model calls so far in this pass (A1111 counts them the same way)."""
        return self._cfg.step

    @property
    def total_steps(self) -> int:
        return self._cfg.total_steps

    @property
    def steps(self) -> int:
        """The steps the user asked for (p.steps); with hires fix's second pass, its own steps."""
        return self._cfg.total_steps if self.p is None else getattr(self.p, "steps", self._cfg.total_steps)

    @property
    def sampling_step(self) -> int:
        return self._cfg.sampling_step

    @property
    def mask(self):
        """Where the original latent is kept (img2img inpainting), [B, 1, h, w]; None otherwise."""
        return self._cfg.keep_mask

    @property
    def nmask(self):
        keep = self._cfg.keep_mask
        return None if keep is None else 1 - keep

    @property
    def init_latent(self):
        return self._cfg.init_latent

    @property
    def inner_model(self):
        """The model as a denoiser D(x, sigma, cond=…) → denoised."""
        return self._cfg.denoiser

    model_wrap = inner_model

    @property
    def sampler(self):
        return getattr(self.p, "sampler", None)


def _fresh(value: Any) -> Any:
    """A copy an extension may change in place without touching the core's cached conditioning or the sampler's x."""
    if hasattr(value, "clone"):
        return value.clone()
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    return value


def cond_for_extension(cond: Any) -> Any:
    """A1111's shape of a text conditioning: a tensor [N, T, C] (SD 1.x/2.x), or for SDXL a dict with
    "crossattn" [N, T, C] and "vector" (the pooled embedding [N, D]); Easel's `Conditioning` value (its
    cross_attn, pooled, added fields) is unpacked into that, a fresh copy every call."""
    if cond is None or not hasattr(cond, "cross_attn"):
        return _fresh(cond)
    if getattr(cond, "pooled", None) is None:
        return cond.cross_attn.clone()
    return {"crossattn": cond.cross_attn.clone(), "vector": cond.pooled.clone()}


def cond_from_extension(value: Any, original: Any) -> Any:
    """The core's conditioning for what an extension left in params: its tensors put back into `original`'s
    kind of value (row lengths kept while the token count is unchanged)."""
    if original is None or not hasattr(original, "cross_attn") or hasattr(value, "cross_attn"):
        return value
    cross = value["crossattn"] if isinstance(value, dict) else value
    changes = {"cross_attn": cross}
    if isinstance(value, dict) and value.get("vector") is not None and original.pooled is not None:
        changes["pooled"] = value["vector"]
    if tuple(cross.shape[:2]) != tuple(original.cross_attn.shape[:2]):
        changes["lengths"] = None
    return dataclasses.replace(original, **changes)


def _txt2img_image_cond(x):
    return x.new_zeros(x.shape[0], 5, 1, 1)  # [N, 5, 1, 1]: what A1111 gives non-inpainting models


def _is_placeholder(image_cond, x) -> bool:
    return tuple(image_cond.shape) == (x.shape[0], 5, 1, 1) and not bool(image_cond.any())


def cfg_hooks(p=None) -> CFGHooks:
    """The registered cfg callbacks as core hooks for the run of `p` (none registered: no hooks, no cost)."""

    from modules.extensions.compat import lora_batch

    def on_denoiser(params):
        image_cond = params.image_cond if params.image_cond is not None else _txt2img_image_cond(params.x)
        a = sc.CFGDenoiserParams(_fresh(params.x), _fresh(image_cond), _fresh(params.sigma), params.sampling_step,
                                 params.total_sampling_steps, cond_for_extension(params.text_cond),
                                 cond_for_extension(params.text_uncond), DenoiserView(params.denoiser, p))
        sc.cfg_denoiser_callback(a)
        lora_batch.sync()  # LoRA multipliers or layers a callback changed take effect at this model call (A1111)
        placeholder = params.image_cond is None and a.image_cond is not None and _is_placeholder(a.image_cond, a.x)
        params.x, params.sigma = a.x, a.sigma
        params.image_cond = None if placeholder else a.image_cond
        params.text_cond = cond_from_extension(a.text_cond, params.text_cond)
        params.text_uncond = cond_from_extension(a.text_uncond, params.text_uncond)

    def on_denoised(params):
        a = sc.CFGDenoisedParams(params.x, params.sampling_step, params.total_sampling_steps, params.inner_model)
        sc.cfg_denoised_callback(a)
        params.x = a.x

    def on_after_cfg(params):
        a = sc.AfterCFGCallbackParams(params.x, params.sampling_step, params.total_sampling_steps)
        sc.cfg_after_cfg_callback(a)
        params.x = a.x

    from modules.extensions.compat.model_call import model_call_hook

    sampler = _sampler_object(p)
    return CFGHooks(on_denoiser=(on_denoiser,) if sc.has("cfg_denoiser") else (),
                    on_denoised=(on_denoised,) if sc.has("cfg_denoised") else (),
                    on_after_cfg=(on_after_cfg,) if sc.has("cfg_after_cfg") else (),
                    on_step=_callback_state_hooks(sampler), combine=_combine_hook(sampler, p),
                    model_call=model_call_hook(sampler))


def _sampler_object(p):
    """A1111's `p.sampler` for this pass: `create_sampler(p.sampler_name, p.sd_model)`, made as A1111's sample()
    makes it, after process_batch, so a row an extension put in `all_samplers_map` and named there is the one
    constructed (its constructor is the extension's code: a failure is reported and the plain object used)."""
    from modules.extensions.compat import sd_samplers

    if p is None:
        return None
    name, model = getattr(p, "sampler_name", None), getattr(p, "sd_model", None)
    config = sd_samplers.find_sampler_config(name)
    if config is None:
        return None
    creator = sd_samplers.create_sampler  # an extension may have replaced it (Tiled Diffusion does)
    made_by = creator if creator is not sd_samplers.make_sampler_object else config.constructor
    owner = extension_of(getattr(getattr(made_by, "__code__", None), "co_filename", None))
    sampler = guarded(owner, f"sampler {config.name!r} constructor", creator, name, model)
    if sampler is None:  # reported; the run goes on with the plain object of its sampler (or the first one)
        sampler = guarded(owner, "plain sampler object", sd_samplers.make_sampler_object, name, model) or \
            sd_samplers.make_sampler_object(sd_samplers.find_sampler_config(None).name, model)
    sampler.p = p
    p.sampler = sampler
    return sampler


def _combine_hook(sampler, p):
    """The sampler object's `model_wrap_cfg.combine_denoised` as the run's guidance combination, when an
    extension's subclass overrides it (otherwise the core's own maths, which is the same as A1111's)."""
    from modules.extensions.compat.sd_samplers_kdiffusion import CFGDenoiserKDiffusion

    wrap = getattr(sampler, "model_wrap_cfg", None)
    method = getattr(type(wrap), "combine_denoised", None)
    if wrap is None or method is None or method is CFGDenoiserKDiffusion.combine_denoised:
        return None
    owner = extension_of(getattr(getattr(method, "__code__", None), "co_filename", None))

    def combine(params):
        cfg = params.denoiser
        wrap.step, wrap.total_steps, wrap.p = cfg.step, cfg.total_steps, p
        wrap.steps = getattr(p, "steps", cfg.total_steps)
        wrap.mask, wrap.init_latent = cfg.keep_mask, cfg.init_latent
        wrap.nmask = None if cfg.keep_mask is None else 1 - cfg.keep_mask
        conds_list = [list(parts) for parts in params.parts]  # per image [(row, weight), …], as A1111
        uncond = cond_for_extension(params.text_uncond)
        denoised = guarded(owner, f"{type(wrap).__name__}.combine_denoised", wrap.combine_denoised, params.x_out,
                           conds_list, uncond, params.scale)
        if denoised is None:  # reported; this step keeps A1111's plain combination
            denoised = CFGDenoiserKDiffusion.combine_denoised(wrap, params.x_out, conds_list, uncond, params.scale)
        return denoised  # [B, C, H, W]

    return combine


def _callback_state_hooks(sampler) -> tuple:
    """A1111's KDiffusionSampler.callback_state after each step, when an extension replaced it (else nothing)."""
    from modules.extensions.compat import sd_samplers_kdiffusion as kd

    if sampler is None or not kd.callback_state_replaced():
        return ()
    function = kd.KDiffusionSampler.callback_state
    owner = extension_of(getattr(getattr(function, "__code__", None), "co_filename", None))

    def on_step(d: dict) -> None:
        guarded(owner, "KDiffusionSampler.callback_state", kd.KDiffusionSampler.callback_state, sampler, d)

    return (on_step,)
