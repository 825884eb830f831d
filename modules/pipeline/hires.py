"""Hires fix (A1111 `StableDiffusionProcessingTxt2Img`): sample small, upscale (in latent space or through an image
upscaler), then an img2img pass at the target size with its own steps, strength and optional sampler/prompts.

The second pass always runs exactly its steps (A1111 passes them explicitly, as `img2img_fix_steps` does).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from modules.controlnet.resolve import control_run
from modules.errors import InvalidInput, NotFound
from modules.imaging.convert import pil_to_tensor, tensor_to_pil
from modules.imaging.infotext import old_hires_first_pass_size
from modules.imaging.resize import resize_image
from modules.pipeline import inpaint
from modules.pipeline.extra_networks import styled_prompts
from modules.prompts.comments import prompt_pair
from modules.pipeline.img2img import Pass, img2img_steps
from modules.pipeline.img2img_request import as_image
from modules.pipeline.prompting import step_conditioning
from modules.pipeline.request import MAX_STEPS, GenerationRequest
from modules.models.speedups.options import NO_PATCHES, UnetPatches
from modules.pipeline.run_options import negative_guidance_minimum
from modules.pipeline.sample import decode_latents, model_denoiser
from modules.pipeline.steps import choose_sampler, make_rng
from modules.sampling.cfg_hooks import CFGHooks
from modules.upscalers.registry import LATENT_MODES

DEFAULT_STRENGTH = 0.7
DEFAULT_UPSCALER = "Latent"
MAX_HIRES_SIDE = 8192
MIN_HIRES_SIDE = 64


@dataclass(frozen=True)
class HiresPlan:
    """Sizes and choices of the second pass, resolved from the request (all plain values)."""

    target_w: int
    target_h: int
    truncate_x: int  # latent columns to cut (hr_resize_x and _y both given: crop to their aspect)
    truncate_y: int
    upscaler: str
    latent_mode: tuple[str, bool] | None  # (interpolate mode, antialias) for latent upscalers, else None
    steps: int
    strength: float
    infotext: dict[str, Any]


def first_pass_request(req: GenerationRequest, old_size_rule: bool = False) -> GenerationRequest:
    """The request with width/height as the first pass's size. Old API clients send firstphase_width/height: then
    width/height are the final size (A1111). `old_size_rule` (A1111's use_old_hires_fix_width_height setting):
    width/height are always the final size, and the first pass is about 512x512 pixels of the same shape, as
    before A1111 1.0; Upscale by and Resize width/height to are then not used."""
    if not req.enable_hr:
        return req
    if req.firstphase_width or req.firstphase_height:
        req = req.replace(width=req.firstphase_width or req.width, height=req.firstphase_height or req.height,
                          hr_resize_x=req.width, hr_resize_y=req.height, firstphase_width=0, firstphase_height=0)
    if old_size_rule:
        width, height = old_hires_first_pass_size(req.width, req.height)
        req = req.replace(width=width, height=height, hr_resize_x=req.width, hr_resize_y=req.height)
    return req


def target_size(width: int, height: int, scale: float, resize_x: int, resize_y: int,
                factor: int = 8) -> tuple[int, int, int, int]:
    """(target w, target h, truncate x, truncate y) as A1111's `calculate_target_resolution`; the truncation
    counts latent pixels of a VAE that downsamples by `factor`.

    >>> target_size(64, 64, 2, 0, 0), target_size(64, 32, 2, 96, 0), target_size(64, 64, 2, 128, 64)
    ((128, 128, 0, 0), (96, 48, 0, 0), (128, 128, 0, 8))
    >>> target_size(64, 64, 2, 128, 64, factor=4)
    (128, 128, 0, 16)
    """
    if not resize_x and not resize_y:
        return int(width * scale), int(height * scale), 0, 0
    if not resize_y:
        return resize_x, resize_x * height // width, 0, 0
    if not resize_x:
        return resize_y * width // height, resize_y, 0, 0
    if width / height < resize_x / resize_y:
        w, h = resize_x, resize_x * height // width
    else:
        w, h = resize_y * width // height, resize_y
    return w, h, (w - resize_x) // factor, (h - resize_y) // factor


def _check(name: str, ok: bool, value, valid: str) -> None:
    if not ok:
        raise InvalidInput(name, f"{value!r} is out of range", valid)


def plan_hires(req: GenerationRequest, upscalers, factor: int = 8, comments: bool = False) -> HiresPlan | None:
    """Check the hires fields and resolve sizes and the upscaler; None when hires fix is off.
    `factor`: the model's VAE downsampling (the truncation is counted in latent pixels); `comments`: whether
    prompt comments are stripped (`enable_prompt_comments`), so the infotext's hires prompts carry none."""
    if not req.enable_hr:
        return None
    strength = DEFAULT_STRENGTH if req.denoising_strength is None else req.denoising_strength
    _check("denoising_strength", isinstance(strength, (int, float)) and 0 <= strength <= 1, strength, "0 to 1")
    _check("hr_scale", isinstance(req.hr_scale, (int, float)) and 1 <= req.hr_scale <= 8, req.hr_scale, "1 to 8")
    _check("hr_second_pass_steps", isinstance(req.hr_second_pass_steps, int) and
           0 <= req.hr_second_pass_steps <= MAX_STEPS, req.hr_second_pass_steps, f"0 (same as steps) to {MAX_STEPS}")
    for name in ("hr_resize_x", "hr_resize_y"):
        value = getattr(req, name)
        _check(name, isinstance(value, int) and 0 <= value <= MAX_HIRES_SIDE, value, f"0 to {MAX_HIRES_SIDE}")
    w, h, tx, ty = target_size(req.width, req.height, req.hr_scale, req.hr_resize_x, req.hr_resize_y, factor)
    _check("hr_scale", min(w, h) >= MIN_HIRES_SIDE and max(w, h) <= MAX_HIRES_SIDE, f"{w}x{h}",
           f"a target from {MIN_HIRES_SIDE} to {MAX_HIRES_SIDE} pixels a side")
    name = req.hr_upscaler or DEFAULT_UPSCALER
    latent = LATENT_MODES.get(name)
    if latent is None and upscalers is None:
        raise InvalidInput("hr_upscaler", f"unknown upscaler {name!r}", ", ".join(LATENT_MODES))
    if latent is None:
        try:
            name = upscalers.find(name, "hr_upscaler").name
        except InvalidInput:
            valid = ", ".join([*LATENT_MODES, *(r.name for r in upscalers.list())])
            raise InvalidInput("hr_upscaler", f"unknown upscaler {name!r}", valid) from None
    steps = req.hr_second_pass_steps or req.steps
    return HiresPlan(w, h, tx, ty, name, latent, steps, float(strength), hires_infotext(req, name, comments))


def hires_checkpoint(models, req) -> str | None:
    """The title of the checkpoint the request's hires pass asks for; None for the first pass's own ("Use same
    checkpoint", empty or None). An unknown name is refused naming `hr_checkpoint_name`."""
    name = same_as_first(req.hr_checkpoint_name) if req.enable_hr else None
    if name is None:
        return None
    try:
        return models.find_checkpoint(name).title
    except NotFound as e:
        raise InvalidInput("hr_checkpoint_name", e.message, "a listed checkpoint, or \"Use same checkpoint\"") from None


def same_as_first(name: str | None) -> str | None:
    """A1111's UI sends "Use same sampler" / "Use same scheduler" for the first pass's choice: None here.

    >>> same_as_first("Use same sampler"), same_as_first(""), same_as_first("Euler a")
    (None, None, 'Euler a')
    """
    return None if not name or name.lower().startswith("use same") else name


def hires_infotext(req: GenerationRequest, upscaler: str, comments: bool = False) -> dict[str, Any]:
    """A1111's Hires keys, in the order it adds them."""
    info: dict[str, Any] = {"Denoising strength": DEFAULT_STRENGTH if req.denoising_strength is None
                            else req.denoising_strength}
    if req.hr_resize_x or req.hr_resize_y:
        info["Hires resize"] = f"{req.hr_resize_x}x{req.hr_resize_y}"
    else:
        info["Hires upscale"] = req.hr_scale
    if req.hr_second_pass_steps:
        info["Hires steps"] = req.hr_second_pass_steps
    info["Hires upscaler"] = upscaler
    if same_as_first(req.hr_sampler_name) is not None and req.hr_sampler_name != req.sampler_name:
        info["Hires sampler"] = req.hr_sampler_name
    prompt, negative = prompt_pair(comments, req.prompt, req.negative_prompt)
    hr_prompt, hr_negative = prompt_pair(comments, req.hr_prompt, req.hr_negative_prompt)
    if hr_prompt and hr_prompt != prompt:
        info["Hires prompt"] = hr_prompt
    if hr_negative and hr_negative != negative:
        info["Hires negative prompt"] = hr_negative
    return info


def second_pass_size(plan: HiresPlan, factor: int) -> tuple[int, int]:
    """(width, height) of the second pass's images: the target less the truncation (`upscale_latents`).

    >>> second_pass_size(HiresPlan(128, 128, 0, 8, "Latent", None, 10, 0.7, {}), 8)
    (128, 64)
    """
    return plan.target_w - plan.truncate_x * factor, plan.target_h - plan.truncate_y * factor


def first_pass_from_image(model, req: GenerationRequest, plan: HiresPlan, batch_size: int, exact: bool):
    """A1111's `firstpass_image`: the given picture stands in for the first pass of every image of the batch.

    Returns (latents [B, C, h/f, w/f] or None, images or None): a latent upscaler starts from the picture's
    latents, an image upscaler from the picture itself.
    """
    image = as_image(req.firstpass_image, "firstpass_image").convert("RGB")
    f = model.vae_scale_factor
    if image.width < f or image.height < f:
        raise InvalidInput("firstpass_image", f"{image.width}x{image.height} is too small",
                           f"at least {f}x{f} pixels")
    if plan.latent_mode is None:
        return None, [image] * batch_size
    pixels = pil_to_tensor([image])  # [1, 3, h, w]
    latents = model.encode(pixels, sample=False)  # [1, C, h/f, w/f]
    return latents.expand(batch_size, -1, -1, -1).contiguous(), None


def upscale_latents(model, latents: torch.Tensor | None, plan: HiresPlan, upscalers, exact: bool,
                    tiling: tuple[int, int] = (192, 8), first_images: list | None = None,
                    first_model=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """First-pass latents [B, C, h, w] (or, for an image upscaler, the `first_images` themselves) → (latents at
    the target size [B, C, H/f, W/f], truncated if asked; the upscaled pixels [B, 3, H, W] they were encoded
    from, cropped alike, or None for a latent upscaler). `model` encodes; `first_model` (default: `model`), the
    first pass's, decodes its latents for an image upscaler."""
    f = model.vae_scale_factor
    size = (plan.target_h // f, plan.target_w // f)
    pixels = None
    if plan.latent_mode is not None:
        if latents is None:  # first_pass_from_image gives latents for a latent upscaler
            raise ValueError(f"the latent upscaler {plan.upscaler!r} needs the first pass's latents")
        mode, antialias = plan.latent_mode
        out = F.interpolate(latents, size=size, mode=mode, antialias=antialias)  # [B, C, H/f, W/f]
    else:
        upscale = None if upscalers is None else (lambda im, s: upscalers.upscale(im, plan.upscaler, s, *tiling))
        if first_images is not None:
            first = first_images
        elif latents is not None:
            first = tensor_to_pil(decode_latents(first_model or model, latents, exact))
        else:
            raise ValueError(f"the upscaler {plan.upscaler!r} needs the first pass's latents or images")
        images = [resize_image(0, im, plan.target_w, plan.target_h, upscale) for im in first]
        pixels = pil_to_tensor(images)  # [B, 3, H, W]
        rows = [pixels[i:i + 1] for i in range(len(images))] if exact else [pixels]
        out = torch.cat([model.encode(r, sample=False) for r in rows])  # [B, C, H/f, W/f]
    top, left = plan.truncate_y // 2, plan.truncate_x // 2
    bottom, right = out.shape[2] - (plan.truncate_y + 1) // 2, out.shape[3] - (plan.truncate_x + 1) // 2
    out = out[:, :, top:bottom, left:right]  # [B, C, H'/f, W'/f]
    if pixels is not None:
        pixels = pixels[:, :, top * f:bottom * f, left * f:right * f]  # [B, 3, H', W']
    return out, pixels


def second_pass_conditioning(model, latents: torch.Tensor, pixels: torch.Tensor | None, weight: float,
                             exact: bool) -> torch.Tensor | None:
    """A 9-channel model's image conditioning [B, 5, h, w] for the second pass (None for other models).

    As A1111: built from the upscaled first-pass image (`pixels` [B, 3, H, W] from an image upscaler, or the
    upscaled latents decoded), unless the conditional mask weight hides it entirely.
    """
    if not inpaint.is_inpainting_model(model):
        return None
    f = model.vae_scale_factor
    height, width = latents.shape[2] * f, latents.shape[3] * f
    if weight >= 1.0:  # the masked image is fully hidden: no need to decode (A1111 does the same)
        return inpaint.txt2img_conditioning(model, latents.shape[0], height, width)
    if pixels is None:
        pixels = decode_latents(model, latents, exact)  # [B, 3, H, W]
    mask = torch.ones(latents.shape[0], 1, height, width)
    return inpaint.image_conditioning(model, pixels, mask, (latents.shape[2], latents.shape[3]), weight)


@dataclass
class SecondPass:
    """The second pass of one run, prepared once (sampler, schedule, infotext), run per batch."""

    plan: HiresPlan
    choice: Any
    denoiser: Any
    sigmas: torch.Tensor
    t_enc: int
    first_steps: int  # the first pass's steps as prompt schedules count them
    infotext: dict[str, Any]
    checkpoint: str | None = None  # the hires checkpoint's title (`hr_checkpoint_name`), None: the main model
    patches: UnetPatches = NO_PATCHES  # what `denoiser` applies, for a hires checkpoint's own denoiser
    step: Callable[[], int] = lambda: 0
    separate_rows: bool = False  # batch_cond_uncond off (see `model_denoiser`)
    _own: tuple = ()  # (engine, denoiser) of the hires checkpoint, made at its first pass

    def denoiser_for(self, model, exact: bool):
        """The pass's denoiser for `model`: the prepared one, or the hires checkpoint's, made once."""
        if self.checkpoint is None:
            return self.denoiser
        if not self._own or self._own[0] is not model.engine:
            self._own = (model.engine, model_denoiser(model, self.choice, exact, self.patches, self.step,
                                                          self.separate_rows))
        return self._own[1]

    def run(self, services, model, req: GenerationRequest, opts, batch, latents: torch.Tensor | None, job,
            pass_no: int, on_extra_noise=None, first_images: list | None = None,
            notes: dict | None = None, refiner=None, controls: tuple = (), hires_model=None,
            networks=None) -> torch.Tensor | None:
        """First-pass latents [B, C, h, w] (or `first_images`, see `first_pass_from_image`) → upscaled and
        re-denoised latents [B, C, H/f, W/f] (`on_extra_noise`, `notes`: see `Pass.run`; `refiner`: the job's
        RefinerSession, which switches here when `hires_fix_refiner_pass` includes the second pass; `controls`: the
        job's ControlNet units, with their hints at the hires size; `hires_model`: the job's HiresModel when
        `hr_checkpoint_name` names another checkpoint, which then encodes and samples; `networks`: the job's
        NetworkRun, which patches the hires prompts' LoRAs (or the batch's) into the model that runs the pass)."""
        exact, plan, first_model = opts.exact_batches, self.plan, model
        if hires_model is not None:
            model = hires_model.model()
            if notes is not None:
                notes.update(hires_model.infotext())
        init, pixels = upscale_latents(model, latents, plan, services.upscalers, exact,
                                       (opts.ESRGAN_tile, opts.ESRGAN_tile_overlap),
                                       first_images, first_model)  # [B, C, H/f, W/f]
        if plan.strength == 0:
            return init
        prompts = hires_batch(req, batch, services.styles, opts.enable_prompt_comments)

        hires_steps = self.choice.spec.total_steps(plan.steps)

        def conds_for(m):
            return step_conditioning(services.conditioning, m, prompts, opts.CLIP_stop_at_last_layers,
                                     self.first_steps, opts, exact, hires_steps=hires_steps)

        # A1111's hires_fix_use_firstpass_conds: the conds are made while the first pass's LoRAs are still in the
        # text encoder (not with a hires checkpoint, whose text encoder never had them)
        early = conds_for(model) if opts.hires_fix_use_firstpass_conds and hires_model is None else None
        if networks is not None:
            networks.activate_second_pass(model, prompts if (req.hr_prompt or req.hr_negative_prompt) else None)
        conds = early if early is not None else conds_for(model)
        shape = (init.shape[1], init.shape[2], init.shape[3])  # (C, H/f, W/f)
        rng = make_rng(shape, batch, req, opts, model.device, model.vae_scale_factor)
        image_cond = second_pass_conditioning(model, init, pixels, opts.inpainting_mask_weight, exact)
        step = Pass(self.choice, self.denoiser_for(model, exact), self.sigmas, self.t_enc, req.cfg_scale,
                    plan.strength >= 1.0,
                    extra_noise=opts.img2img_extra_noise, ngms=negative_guidance_minimum(req, opts),
                    batch_determinism=not opts.no_dpmpp_sde_batch_determinism)
        job.begin_pass(pass_no, self.t_enc + 1, f"Hires fix {pass_no // 2 + 1}")
        switch = CFGHooks() if refiner is None else \
            refiner.switch_hooks(self.choice, self.t_enc + 1, conds_for, notes, exact, second_pass=True)
        return step.run(services, conds, init, rng, job, image_cond=image_cond, on_extra_noise=on_extra_noise,
                        notes=notes, extra_hooks=switch, control=control_run(controls, "hires"))


def hires_batch(req: GenerationRequest, batch, styles=None, comments: bool = False):
    """The batch's prompts for the second pass: the hires prompts where given, with the request's styles
    (A1111 styles them too) and then, with `comments`, their comments stripped; otherwise the first pass's,
    already styled and stripped."""
    n = len(batch.prompts)
    hr_prompt, hr_negative = prompt_pair(comments, *styled_prompts(styles, req.hr_prompt, req.hr_negative_prompt,
                                                                   req.styles)) \
        if (req.hr_prompt or req.hr_negative_prompt) else ("", "")
    return dataclasses.replace(
        batch, prompts=(hr_prompt,) * n if req.hr_prompt else batch.prompts,
        negative_prompts=(hr_negative,) * n if req.hr_negative_prompt else batch.negative_prompts)


def prepare_second_pass(services, model, req: GenerationRequest, opts, plan: HiresPlan | None,
                        first_schedule: str | None, patches: UnetPatches = NO_PATCHES,
                        step: Callable[[], int] = lambda: 0) -> SecondPass | None:
    """Resolve the second pass's sampler and schedule; its infotext entries include "Hires schedule type" when
    it differs from the first pass's `first_schedule` label. `patches`, `step`: see `model_denoiser`."""
    if plan is None:
        return None
    hr_req = req.replace(sampler_name=same_as_first(req.hr_sampler_name) or req.sampler_name,
                         scheduler=same_as_first(req.hr_scheduler) or req.scheduler)
    choice = choose_sampler(services.samplers, hr_req, opts)
    first = choose_sampler(services.samplers, req, opts)
    denoiser = model_denoiser(model, choice, opts.exact_batches, patches, step, not opts.batch_cond_uncond)
    total, t_enc = img2img_steps(plan.steps, plan.strength, True) if plan.strength > 0 else (plan.steps, 0)
    sigmas, extras = services.samplers.build_sigmas(choice.spec, choice.scheduler, total, denoiser, opts,
                                                    hires=True, first_pass_schedule=first_schedule)
    noised = opts.img2img_extra_noise > 0 and plan.strength > 0
    extra_noise = {"Extra noise": opts.img2img_extra_noise} if noised else {}
    return SecondPass(plan, choice, denoiser, sigmas, t_enc, first.spec.total_steps(req.steps),
                      {**plan.infotext, **extras, **extra_noise}, hires_checkpoint(services.models, req), patches,
                      step, not opts.batch_cond_uncond)
