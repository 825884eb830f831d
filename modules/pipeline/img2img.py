"""img2img and inpainting (SDEdit, Meng et al. 2021): noise the init latent to a level set by the denoising
strength, then run the rest of the sampler's schedule from there, keeping unmasked latents (RePaint-style blend).

Step mapping (A1111 `setup_img2img_steps`): the last `int(min(strength, 0.999) * steps)` steps of a `steps`-step
schedule run, plus one; with `img2img_fix_steps` exactly `steps` run, of a schedule `steps / strength` long.
Strength 0 changes nothing (the input comes back, without a VAE round trip); strength 1 starts from pure noise,
so the init image contributes only its size (and, when inpainting, the pixels kept outside the mask).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from modules.options import Snapshot
from modules.controlnet.apply import inpaint_only_blend
from modules.controlnet.resolve import control_run, resolve_units
from modules.pipeline import inpaint
from modules.pipeline.color_step import ColorCorrection, color_correction
from modules.pipeline.extra_networks import NetworkRun, styled_prompts
from modules.pipeline.extra_outputs import Finished
from modules.models.weight_storage import fp8_setting
from modules.prompts.comments import prompt_pair
from modules.pipeline.img2img_request import Img2ImgRequest, validate_img2img
from modules.pipeline.hooks import NO_HOOKS, RunContext, RunHooks, begin_batch, decoded, extra_noise_hook, sampled
from modules.pipeline.init_saving import init_image_entry
from modules.pipeline.job import Job
from modules.pipeline.output import FaceRestoration, ImageOutputs, face_restoration, restored_with_copies
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.refiner import RefinerSession
from modules.pipeline.refiner_plan import plan_refiner
from modules.pipeline.result import GenerationResult
from modules.pipeline.run_options import (NegativeGuidanceMinimum, negative_guidance_minimum, speed_infotext,
                                          start_cond_cache, tiling_enabled, tiling_infotext, unet_patches)
from modules.pipeline.sample import (SamplerChoice, decode_latents, job_models_dirs, job_previewer, model_denoiser,
                                     preview_period, run_sampler)
from modules.pipeline.seeds import ImagePlan, fix_seed, plan_images
from modules.pipeline.services import PipelineServices
from modules.pipeline.steps import choose_sampler, make_rng, run_facts
from modules.pipeline.vae_methods import method_infotext, with_vae_methods
from modules.errors import InvalidInput
from modules.models.tiling import tiled
from modules.pipeline.soft_inpaint import SoftSettings, blend_hooks, difference_masks, overlay_mask, soft_overlay
from modules.sampling.cfg import CFGDenoiser, CFGHooks
from modules.sampling.registry import scale_initial_noise


def img2img_steps(steps: int, strength: float, fix_steps: bool) -> tuple[int, int]:
    """(length of the schedule to build, t_enc): the last t_enc + 1 steps of that schedule run.

    >>> img2img_steps(20, 0.75, False), img2img_steps(20, 1.0, False), img2img_steps(20, 0.5, True)
    ((20, 15), (20, 19), (40, 19))
    """
    if fix_steps:
        return int(steps / min(strength, 0.999)), steps - 1
    return steps, int(min(strength, 0.999) * steps)


def partial_schedule(sigmas: torch.Tensor, t_enc: int) -> torch.Tensor:
    """The tail of a full schedule [n + 1] that img2img runs: t_enc + 1 steps, t_enc + 2 sigmas."""
    total = len(sigmas) - 1
    return sigmas[max(total - t_enc - 1, 0):]


@dataclass
class Pass:
    """One denoising pass from an init latent: what txt2img's hires fix and img2img share."""

    choice: SamplerChoice
    denoiser: Callable[..., torch.Tensor]  # D(x [B, C, H, W], sigma [B], **model kwargs) -> denoised (model_denoiser)
    sigmas: torch.Tensor  # the full schedule [n + 1]; noise samplers span it, as in A1111
    t_enc: int
    cfg_scale: float
    full_strength: bool = False
    noise_multiplier: float = 1.0
    extra_noise: float = 0.0  # A1111's img2img_extra_noise: more of the same noise, past the schedule's level
    ngms: NegativeGuidanceMinimum = NegativeGuidanceMinimum()
    batch_determinism: bool = True  # SDE noise per image (not A1111's no_dpmpp_sde_batch_determinism)

    def run(self, services, conds, init: torch.Tensor, rng, job: Job, image_cond=None,
            repaint: torch.Tensor | None = None, soft: SoftSettings | None = None,
            extra_hooks: CFGHooks | None = None, on_extra_noise=None, notes: dict | None = None,
            control=None) -> torch.Tensor | None:
        """init [B, 4, h, w] → sampled latents (None if stopped before a step finished). With `repaint`
        [B, 1, h, w], latents outside it are kept: exactly, or by the soft blend of `soft` (no final blend).
        `on_extra_noise(noise, init, x) → noise` (`hooks.extra_noise_hook`) sees the extra noise first;
        `notes` (the run's extra infotext entries) gets "NGMS" when that skipped an uncond pass; `control` (a
        modules.controlnet.apply.ControlRun) adds the ControlNet units' residuals to every UNet call."""
        sched = partial_schedule(self.sigmas, self.t_enc)
        noise = rng.next() * self.noise_multiplier  # [B, 4, h, w]
        x = scale_initial_noise(self.choice.spec, noise, sched) if self.full_strength else init + noise * sched[0]
        if self.extra_noise > 0:
            noise = noise if on_extra_noise is None else on_extra_noise(noise, init, x)
            x = x + noise * self.extra_noise  # [B, 4, h, w]
        hooks = CFGHooks() if soft is None or repaint is None else blend_hooks(soft, init, repaint)
        hooks = hooks if extra_hooks is None else hooks.plus(extra_hooks)
        hooks = hooks if control is None else hooks.plus(control.cfg_hooks())
        keep = None if repaint is None or soft is not None else 1 - repaint  # [B, 1, h, w]
        cfg = CFGDenoiser(self.denoiser, conds.cond, conds.uncond, self.cfg_scale, image_cond=image_cond,
                          hooks=hooks, total_steps=len(sched) - 1, keep_mask=keep,
                          init_latent=None if keep is None else init, rows_per_image=True,
                          **self.ngms.cfg_fields(self.choice.spec.total_steps(len(sched) - 1)),
                          model_kwargs={} if control is None else control.model_kwargs())
        noise_sampler = services.samplers.noise_sampler(self.choice.spec, x, self.sigmas, rng,
                                                        self.batch_determinism)
        latents = run_sampler(self.choice, cfg, x, sched, noise_sampler, job)
        self.ngms.note_skips(cfg, notes)
        conds.note_padding(notes)
        if latents is not None and keep is not None and repaint is not None:  # keep is set only with repaint
            latents = latents * repaint + init * keep
        return latents


def _batch_items(items: list, n: int, batch_size: int, n_iter: int, name: str) -> list:
    """The init images of batch n: one image for all, one per batch position, or one per generated image."""
    count = len(items)
    if count == 1:
        return items * batch_size
    if count == batch_size:
        return list(items)
    if count == batch_size * n_iter:
        return items[n * batch_size:(n + 1) * batch_size]
    raise InvalidInput(name, f"{count} images given for batch size {batch_size} × batch count {n_iter}",
                       f"1, {batch_size} or {batch_size * n_iter} images")


def encode_init(model, pixels: torch.Tensor, req: Img2ImgRequest, exact: bool) -> torch.Tensor:
    """Working pixels [B, 3, H', W'] → init latent [B, 4, H/8, W/8] (the posterior mean: reproducible)."""
    rows = [pixels[i:i + 1] for i in range(pixels.shape[0])] if exact else [pixels]
    latent = torch.cat([model.encode(r, sample=False) for r in rows])  # [B, 4, h', w']
    size = (req.height // model.vae_scale_factor, req.width // model.vae_scale_factor)
    if latent.shape[-2:] != size:  # "Just resize (latent upscale)"
        latent = F.interpolate(latent, size=size, mode="bilinear")  # [B, 4, h, w]
    return latent


def img2img_facts(req: Img2ImgRequest, opts: Snapshot, prepared, model) -> dict:
    extra = {"Denoising strength": req.strength}
    if inpaint.is_inpainting_model(model):
        extra["Conditional mask weight"] = opts.inpainting_mask_weight
    multiplier = noise_multiplier(req, opts)
    if multiplier != 1.0:
        extra["Noise multiplier"] = multiplier
    if opts.img2img_extra_noise > 0 and req.strength > 0:
        extra["Extra noise"] = opts.img2img_extra_noise
    soft = req.soft_settings()
    return {**extra, **prepared.extra, **(soft.infotext() if soft is not None else {}),
            **tiling_infotext(tiling_enabled(req, opts)),
            **speed_infotext(opts, "img2img", False, req.override_settings)}


def noise_multiplier(req: Img2ImgRequest, opts: Snapshot) -> float:
    return opts.initial_noise_multiplier if req.initial_noise_multiplier is None else req.initial_noise_multiplier


def run_img2img(services: PipelineServices, req: Img2ImgRequest, opts: Snapshot, job: Job,
                hooks: RunHooks = NO_HOOKS) -> GenerationResult:
    ctx = RunContext("img2img", req, opts, job, services)
    hooks.call("setup", ctx)
    hooks.call("before_process", ctx)
    req = ctx.request
    validate_img2img(req)
    ctx.model = model = services.models.get(opts.sd_model_checkpoint or None, opts.sd_vae, fp8_setting(opts))
    start_cond_cache(services.conditioning, opts)
    prompt, negative_prompt = prompt_pair(opts.enable_prompt_comments,  # A1111: comments go after the styles
                                          *styled_prompts(services.styles, req.prompt, req.negative_prompt, req.styles))
    ctx.plan = plan_images(prompt, negative_prompt, fix_seed(req.seed), fix_seed(req.subseed),
                           req.subseed_strength, req.batch_size, req.n_iter)
    hooks.call("process", ctx)
    req = ctx.request
    validate_img2img(req)
    choice = choose_sampler(services.samplers, req, opts)
    prepared = inpaint.prepare_inputs(req, opts.img2img_background_color, img2img_upscale(services, opts))
    colors = color_correction(opts, prepared.pixels)
    exact, strength = opts.exact_batches, req.strength
    job.preview_every = preview_period(opts)
    job.previewer = job_previewer(services, model, opts) if job.preview_every else None
    patches = unet_patches(opts, "img2img", ctx.plan.seeds[0], req.override_settings)
    denoiser = model_denoiser(model, choice, exact, patches, lambda: job.sampling_step, not opts.batch_cond_uncond)
    total, t_enc = img2img_steps(req.steps, strength, opts.img2img_fix_steps) if strength > 0 else (req.steps, 0)
    sigmas, sigma_extras = services.samplers.build_sigmas(choice.spec, choice.scheduler, total, denoiser, opts)
    facts = run_facts(services, model, choice, opts, sigma_extras)
    facts = dataclasses.replace(facts, extra={**facts.extra, **img2img_facts(req, opts, prepared, model),
                                              **method_infotext(opts, encodes=True),
                                              **init_image_entry(services, req, opts)})
    faces = face_restoration(services, req, opts) if strength > 0 else None  # strength 0: the input, untouched
    facts = facts if faces is None else faces.add_to(facts)
    outputs = ImageOutputs(services, req, opts, facts, "img2img", hooks, ctx)
    outputs.faces = faces
    step = Pass(choice, denoiser, sigmas, t_enc, req.cfg_scale, strength >= 1.0, noise_multiplier(req, opts),
                opts.img2img_extra_noise, negative_guidance_minimum(req, opts),
                not opts.no_dpmpp_sde_batch_determinism)
    tiling = tiling_enabled(req, opts)
    controls = resolve_units(services, model, req.controlnet_units, req.width, req.height, seed=ctx.plan.seeds[0],
                             init_image=req.init_images[0] if req.init_images else None, init_mask=req.mask)
    refiner_plan = plan_refiner(services.models, req, opts, ctx.model.checkpoint) if strength > 0 else None
    nets = NetworkRun(services, ctx.model, opts)
    refiner = None if refiner_plan is None else \
        RefinerSession(services, refiner_plan, opts, ctx.model, tiling, nets)
    model = with_vae_methods(model, opts, job_models_dirs(services), ctx.plan.seeds[0])  # as the settings say
    with tiled(model, tiling), nets, refiner or contextlib.nullcontext():
        nets.check_families(ctx.plan, req.n_iter)
        for n in range(req.n_iter):
            if job.interrupted:
                break
            take = functools.partial(_batch_items, n=n, batch_size=req.batch_size, n_iter=req.n_iter,
                                     name="init_images")
            batch = begin_batch(hooks, ctx, n, nets)
            outputs.facts = nets.facts(facts)
            if strength == 0:
                outputs.add_images([im.copy() for im in take(prepared.unchanged)], ctx.plan.batch(n))
                continue
            job.begin_pass(n, len(partial_schedule(sigmas, t_enc)) - 1, f"Batch {n + 1} out of {req.n_iter}")
            run = BatchRun(services, model, req, opts, step, batch, take, prepared, job, hooks, ctx, faces, refiner,
                           controls, colors)
            latents, init, repaint = run.sample()
            if latents is not None:
                images = run.finish(sampled(hooks, ctx, latents), init, repaint)
                outputs.add_images(images, ctx.plan.batch(n))  # infotexts from A1111's all_prompts
    ctx.result = outputs.result(ctx.plan, interrupted=job.interrupted)
    ctx.result.warnings.extend([*prepared.notes, *nets.warnings])
    hooks.call("postprocess", ctx)
    return ctx.result


@dataclass
class BatchRun:
    """One img2img batch: encode, sample from the noised init latent, decode and paste back."""

    services: PipelineServices
    model: object
    req: Img2ImgRequest
    opts: Snapshot
    step: Pass
    batch: ImagePlan
    take: Callable[[list], list]  # batch n's items of a per-image list (`_batch_items` bound to n)
    prepared: inpaint.PreparedInputs
    job: Job
    hooks: RunHooks
    ctx: RunContext
    faces: FaceRestoration | None = None  # the face restoration step
    refiner: RefinerSession | None = None  # switches to another checkpoint mid-sampling (modules/pipeline/refiner.py)
    controls: tuple = ()  # the job's ControlNet units (modules/controlnet/resolve.py)
    colors: ColorCorrection | None = None  # img2img_color_correction (modules/pipeline/color_step.py)

    def finish(self, latents, init, repaint) -> list:
        """Decode, restore faces if asked, then paste back and restore the original outside the mask (soft: where
        little changed)."""
        take, prepared, req = self.take, self.prepared, self.req
        pixels = decode_latents(self.model, latents, self.opts.exact_batches)  # [B, 3, H, W]
        finished = decoded(self.hooks, self.ctx, inpaint_only_blend(pixels, self.controls))  # [3, H, W] or PIL each
        restoration = restored_with_copies(self.faces, finished)
        images, befores = [item.image for item in restoration], [item.before for item in restoration]
        plans, overlays, soft = take(prepared.masks), take(prepared.overlays), req.soft_settings()
        overlay_masks: list = [None] * len(plans)  # None: the plan's own mask
        if soft is not None and repaint is not None:  # A1111's soft inpainting overlays even with overlay_inpaint off
            masks = difference_masks(soft, repaint, init, latents, req.width, req.height)
            originals = take(prepared.unchanged)
            overlays = [soft_overlay(original, m, plan.paste_box) for original, m, plan in zip(originals, masks, plans)]
            overlay_masks = [overlay_mask(m, o.size, p.paste_box) for o, m, p in zip(originals, masks, plans)]
        elif not self.opts.overlay_inpaint:  # A1111: the result as sampled, not even pasted back into a crop's place
            overlays = [None] * len(overlays)
        targets = take(list(self.colors.targets)) if self.colors is not None else [None] * len(images)
        return [self._finished(*item) for item in zip(images, overlays, plans, overlay_masks, targets, befores)]

    def _finished(self, image, overlay, plan, overlay_mask, target, before: tuple) -> Finished:
        """One image colour-corrected if asked (A1111: after face restoration, before the overlay), then finished;
        `before`: copies to save first (the unrestored picture)."""
        if self.colors is not None and target is not None:
            image, uncorrected = self.colors.correct(image, target, lambda im: inpaint.finish_image(im, overlay, plan))
            before = (*before, *uncorrected)
        return inpaint.finished(image, overlay, plan, overlay_mask, before)

    def sample(self):
        """(sampled latents or None, the init latent, the latent repaint mask or None)."""
        services, model, req, opts, take, prepared, batch = (self.services, self.model, self.req, self.opts,
                                                             self.take, self.prepared, self.batch)
        soft = req.soft_settings() if prepared.has_mask else None
        rounded = soft is None and req.mask_round  # A1111: soft inpainting turns mask_round off
        pixels = inpaint.pixels_tensor(take(prepared.pixels))  # [B, 3, H', W']
        init = encode_init(model, pixels, req, opts.exact_batches)  # [B, 4, h, w]
        shape = tuple(init.shape[1:])

        def conds_for(m):
            return step_conditioning(services.conditioning, m, batch, opts.CLIP_stop_at_last_layers,
                                     self.step.choice.spec.total_steps(req.steps), opts, opts.exact_batches)

        conds = conds_for(model)
        switch = CFGHooks() if self.refiner is None else self.refiner.switch_hooks(
            self.step.choice, self.step.t_enc + 1, conds_for, self.ctx.extra, opts.exact_batches)
        rng = make_rng(shape, batch, req, opts, model.device, model.vae_scale_factor)
        plans = take(prepared.masks) if prepared.has_mask else None
        repaint = None
        if plans is not None:
            repaint = inpaint.latent_masks(plans, shape[1], shape[2], init.device, rounded)  # [B, 1, h, w]
            init = inpaint.mask_latents(init, repaint, req.inpainting_fill,
                                        make_rng(shape, batch, req, opts, model.device, model.vae_scale_factor).next())
        image_cond = None
        if inpaint.is_inpainting_model(model):
            mask = inpaint.conditioning_mask(plans, pixels.shape[0], pixels.shape[2], pixels.shape[3], rounded)
            image_cond = inpaint.image_conditioning(model, pixels, mask, shape[1:], opts.inpainting_mask_weight)
        self.hooks.call("process_before_every_sampling", self.ctx, x=init, noise=None, c=conds.cond,
                        uc=conds.uncond)
        latents = self.step.run(services, conds, init, rng, self.job, image_cond=image_cond, repaint=repaint,
                                soft=soft, extra_hooks=switch.plus(self.hooks.cfg_hooks(self.ctx)),
                                on_extra_noise=extra_noise_hook(self.hooks, self.ctx), notes=self.ctx.extra,
                                control=control_run(self.controls, "single"))
        return latents, init, repaint


def img2img_upscale(services, opts: Snapshot):
    """The "Upscaler for img2img" setting as a function `(image, scale) -> image`, or None for Lanczos."""
    upscalers = getattr(services, "upscalers", None)
    name = opts.upscaler_for_img2img
    if upscalers is None or not name or name == "None":
        return None
    return lambda image, scale: upscalers.upscale(image, name, scale, opts.ESRGAN_tile, opts.ESRGAN_tile_overlap,
                                                  field="upscaler_for_img2img")
