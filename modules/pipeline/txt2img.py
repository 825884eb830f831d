"""txt2img: the request, as plain values, through conditioning, sampling, decoding, infotext and saving."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from modules.controlnet.apply import inpaint_only_blend
from modules.controlnet.resolve import control_run, resolve_units
from modules.options import Snapshot
from modules.pipeline.extra_networks import NetworkRun, styled_prompts
from modules.models.weight_storage import fp8_setting
from modules.pipeline.hires_model import HiresModel
from modules.prompts.comments import prompt_pair
from modules.models.tiling import tiled
from modules.pipeline.hires import (first_pass_from_image, first_pass_request, plan_hires, prepare_second_pass,
                                   second_pass_size)
from modules.pipeline.inpaint import txt2img_conditioning
from modules.pipeline.hooks import NO_HOOKS, RunContext, RunHooks, begin_batch, decoded, extra_noise_hook, sampled
from modules.pipeline.job import Job
from modules.imaging.convert import tensor_to_pil
from modules.pipeline.output import ImageOutputs, face_restoration, restored_with_copies
from modules.pipeline.request import GenerationRequest, validate_request
from modules.pipeline.run_options import (NegativeGuidanceMinimum, negative_guidance_minimum, sgm_noise_multiplier,
                                          speed_infotext, start_cond_cache, tiling_enabled, tiling_infotext,
                                          unet_patches)
from modules.pipeline.result import GenerationResult
from modules.pipeline.sample import (SamplerChoice, decode_latents, job_models_dirs, job_previewer, model_denoiser,
                                     preview_period, run_sampler)
from modules.pipeline.seeds import fix_seed, plan_images
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.refiner import RefinerSession
from modules.pipeline.refiner_plan import plan_refiner
from modules.pipeline.steps import choose_sampler, make_rng, run_facts
from modules.pipeline.vae_methods import method_infotext, with_vae_methods
from modules.pipeline.services import PipelineServices
from modules.sampling.cfg import CFGDenoiser
from modules.sampling.cfg_hooks import CFGHooks
from modules.sampling.registry import scale_initial_noise


def run_txt2img(services: PipelineServices, req: GenerationRequest, opts: Snapshot, job: Job,
                hooks: RunHooks = NO_HOOKS) -> GenerationResult:
    ctx = RunContext("txt2img", req, opts, job, services)
    hooks.call("setup", ctx)
    hooks.call("before_process", ctx)
    req = first_pass_request(ctx.request, bool(opts.use_old_hires_fix_width_height))
    validate_request(req)
    ctx.model = model = services.models.get(opts.sd_model_checkpoint or None, opts.sd_vae, fp8_setting(opts))
    start_cond_cache(services.conditioning, opts)
    prompt, negative_prompt = prompt_pair(opts.enable_prompt_comments,  # A1111: comments go after the styles
                                          *styled_prompts(services.styles, req.prompt, req.negative_prompt, req.styles))
    ctx.request, ctx.plan = req, plan_images(prompt, negative_prompt, fix_seed(req.seed), fix_seed(req.subseed),
                                             req.subseed_strength, req.batch_size, req.n_iter)
    hooks.call("process", ctx)
    req = ctx.request
    validate_request(req)
    hires = plan_hires(req, services.upscalers, model.vae_scale_factor, opts.enable_prompt_comments)
    refiner_plan = plan_refiner(services.models, req, opts, model.checkpoint, enable_hr=hires is not None)
    choice = choose_sampler(services.samplers, req, opts)
    exact = opts.exact_batches
    steps_done = lambda: job.sampling_step  # noqa: E731  the pass's current step (feature caching reads it)
    denoiser = model_denoiser(model, choice, exact, unet_patches(opts, "txt2img", ctx.plan.seeds[0]), steps_done,
                              not opts.batch_cond_uncond)
    sigmas, sigma_extras = services.samplers.build_sigmas(choice.spec, choice.scheduler, req.steps, denoiser, opts)
    facts = run_facts(services, model, choice, opts, sigma_extras)
    second = prepare_second_pass(services, model, req, opts, hires, sigma_extras.get("Schedule type"),
                                 unet_patches(opts, "hr", ctx.plan.seeds[0]), steps_done)
    facts = facts if second is None else dataclasses.replace(facts, extra={**facts.extra, **second.infotext})
    tiling, ngms = tiling_enabled(req, opts), negative_guidance_minimum(req, opts)
    encodes = second is not None and second.plan.latent_mode is None  # an image upscaler: pixels are re-encoded
    facts = dataclasses.replace(facts, extra={**facts.extra, **tiling_infotext(tiling),
                                              **speed_infotext(opts, "txt2img", second is not None),
                                              **method_infotext(opts, encodes)})
    faces = face_restoration(services, req, opts)
    facts = facts if faces is None else faces.add_to(facts)
    passes = job.job_count = req.n_iter * (1 if second is None else 2)
    job.preview_every = preview_period(opts)
    job.previewer = job_previewer(services, model, opts) if job.preview_every else None
    outputs = ImageOutputs(services, req, opts, facts, "txt2img", hooks, ctx)
    outputs.faces = faces
    hires_size = None if second is None else second_pass_size(second.plan, model.vae_scale_factor)
    controls = resolve_units(services, model, req.controlnet_units, req.width, req.height, hires_size=hires_size,
                             seed=ctx.plan.seeds[0])
    first = FirstPass(choice, denoiser, sigmas, ngms, controls, "single" if second is None else "first",
                      sgm_noise_multiplier(opts, choice.spec))
    model = with_vae_methods(model, opts, job_models_dirs(services), ctx.plan.seeds[0])  # as the settings say
    nets = NetworkRun(services, ctx.model, opts)
    refiner = None if refiner_plan is None else \
        RefinerSession(services, refiner_plan, opts, ctx.model, tiling, nets)
    hires_model = None if second is None or second.checkpoint is None else \
        HiresModel(services, second.checkpoint, opts, ctx.model, tiling, ctx.plan.seeds[0])
    with tiled(model, tiling), nets, refiner or contextlib.nullcontext(), hires_model or contextlib.nullcontext():
        nets.check_families(ctx.plan, req.n_iter, req.hr_prompt if second is not None else "")
        for n in range(req.n_iter):
            if job.interrupted:
                break
            batch = begin_batch(hooks, ctx, n, nets)
            outputs.facts = nets.facts(facts)
            job.begin_pass(n * passes // req.n_iter, len(sigmas) - 1, f"Batch {n + 1} out of {req.n_iter}")
            first_images = None
            # hires fix from a given picture: no first pass (A1111); validate_request allows firstpass_image only
            # with enable_hr, so `second` is there
            if req.firstpass_image is not None and second is not None:
                latents, first_images = first_pass_from_image(model, req, second.plan, len(batch.seeds), exact)
            else:
                latents = first.run(services, model, req, opts, batch, job, hooks, ctx, refiner)
            started = latents is not None or first_images is not None
            decoder = model  # the model whose latents these are
            if started and second is not None and not (job.interrupted or job.skipped):
                hooks.call("before_hr", ctx)
                if opts.save_images_before_highres_fix and req.save_images:  # decoded once, also for an upscaler
                    first_images = first_images or tensor_to_pil(decode_latents(model, latents, exact))
                    outputs.save_copies(first_images, ctx.plan.batch(n), BEFORE_HIRES_SUFFIX)
                latents = second.run(services, model, req, opts, batch, latents, job, 2 * n + 1,
                                     on_extra_noise=extra_noise_hook(hooks, ctx), first_images=first_images,
                                     notes=ctx.extra, refiner=refiner, controls=controls, hires_model=hires_model,
                                     networks=nets)
                outputs.facts = nets.facts(facts)  # with the hires prompt's LoRA hashes
                decoder = model if hires_model is None else hires_model.model()
            if latents is not None:
                latents = sampled(hooks, ctx, latents)
                pixels = inpaint_only_blend(decode_latents(decoder, latents, exact), controls)  # [B, 3, H, W]
                images = decoded(hooks, ctx, pixels)  # [3, H, W] or PIL each
                # infotexts from the plan (A1111's all_prompts), not what scripts left in the batch's prompts
                outputs.add_images(restored_with_copies(faces, images), ctx.plan.batch(n))
    ctx.result = outputs.result(ctx.plan, interrupted=job.interrupted)
    ctx.result.warnings.extend(nets.warnings)
    hooks.call("postprocess", ctx)
    return ctx.result


BEFORE_HIRES_SUFFIX = "-before-highres-fix"


@dataclass(frozen=True)
class FirstPass:
    """The text-to-image pass of a run, prepared once (sampler, schedule, NGMS), run per batch."""

    choice: SamplerChoice
    denoiser: Callable[..., torch.Tensor]  # D(x [B, C, H, W], sigma [B], **model kwargs) -> denoised (model_denoiser)
    sigmas: torch.Tensor  # [steps + 1]
    ngms: NegativeGuidanceMinimum
    controls: tuple = ()  # the job's ControlNet units (modules/controlnet/resolve.py)
    control_stage: str = "single"  # "first" when a hires pass follows (units' hr_option)
    sgm_noise: bool = False  # start from noise * sqrt(1 + sigma_max^2) (run_options.sgm_noise_multiplier)

    def run(self, services, model, req: GenerationRequest, opts: Snapshot, batch, job: Job, hooks: RunHooks,
            ctx: RunContext, refiner: RefinerSession | None = None) -> torch.Tensor | None:
        """Noise → sampled latents [B, C, H/f, W/f] (None if stopped before the first step finished); `refiner`
        takes over at its switch point when it applies to this pass."""
        choice, sigmas, exact = self.choice, self.sigmas, opts.exact_batches
        shape = (model.latent_channels, req.height // model.vae_scale_factor, req.width // model.vae_scale_factor)

        def conds_for(m):
            return step_conditioning(services.conditioning, m, batch, opts.CLIP_stop_at_last_layers,
                                     choice.spec.total_steps(req.steps), opts, exact)

        conds = conds_for(model)
        switch = CFGHooks() if refiner is None else \
            refiner.switch_hooks(choice, len(sigmas) - 1, conds_for, ctx.extra, exact)
        rng = make_rng(shape, batch, req, opts, model.device, model.vae_scale_factor)
        x = scale_initial_noise(choice.spec, rng.next(), sigmas, self.sgm_noise)  # [B, C, H/f, W/f]
        if self.sgm_noise:
            ctx.extra["SGM noise multiplier"] = True
        hooks.call("process_before_every_sampling", ctx, x=x, noise=x, c=conds.cond, uc=conds.uncond)
        image_cond = txt2img_conditioning(model, x.shape[0], req.height, req.width)  # [B, 5, h, w] or None
        control = control_run(self.controls, self.control_stage)
        cfg_hooks = switch.plus(hooks.cfg_hooks(ctx))
        cfg = CFGDenoiser(self.denoiser, conds.cond, conds.uncond, req.cfg_scale, image_cond=image_cond,
                          hooks=cfg_hooks if control is None else cfg_hooks.plus(control.cfg_hooks()),
                          total_steps=len(sigmas) - 1, rows_per_image=True,
                          **self.ngms.cfg_fields(choice.spec.total_steps(len(sigmas) - 1)),
                          model_kwargs={} if control is None else control.model_kwargs())
        noise = services.samplers.noise_sampler(choice.spec, x, sigmas, rng, not opts.no_dpmpp_sde_batch_determinism)
        latents = run_sampler(choice, cfg, x, sigmas, noise, job)
        self.ngms.note_skips(cfg, ctx.extra)
        conds.note_padding(ctx.extra)
        return latents
