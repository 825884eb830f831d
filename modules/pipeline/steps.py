"""The small steps of a run, each a plain function of values: sampler choice, conditioning, noise, run facts."""
from __future__ import annotations


import torch

from modules.options import Snapshot
from modules.pipeline.params import InfotextKeys, RunFacts
from modules.pipeline.request import GenerationRequest
from modules.pipeline.sample import SamplerChoice
from modules.pipeline.seeds import ImagePlan
from modules.sampling.noise import ImageRNG
from modules.sampling.alpha_schedule import AlphaSchedule
from modules.sampling.params import UniPCSettings, sampler_params


def _pick(value, default):
    return default if value is None else value


def choose_sampler(registry, req: GenerationRequest, opts: Snapshot) -> SamplerChoice:
    """Resolve names (unknown → InvalidInput listing valid ones) and the sampler's tunables from request/settings."""
    spec, implied_scheduler = registry.resolve_sampler(req.sampler_name)
    scheduler = implied_scheduler or registry.resolve_scheduler(req.scheduler)
    kwargs, infotext = sampler_params(
        spec, eta=req.eta, s_churn=_pick(req.s_churn, opts.s_churn), s_tmin=_pick(req.s_tmin, opts.s_tmin),
        s_tmax=_pick(req.s_tmax, opts.s_tmax), s_noise=_pick(req.s_noise, opts.s_noise),
        eta_ancestral=opts.eta_ancestral, eta_ddim=opts.eta_ddim, uni_pc=UniPCSettings.read(opts))
    alphas = AlphaSchedule.read(opts)
    quantize = bool(opts.enable_quantization) and not spec.options.get("vp_initial_noise", False)  # not DDIM & co
    return SamplerChoice(spec, scheduler, kwargs, {**infotext, **alphas.infotext()}, alphas, quantize)


def run_facts(services, model, choice: SamplerChoice, opts: Snapshot, sigma_extras: dict) -> RunFacts:
    uses_ensd = bool(choice.spec.options.get("uses_ensd"))
    return RunFacts(
        sampler_label=choice.spec.name,
        model_name=model.checkpoint.model_name,
        model_hash=model.checkpoint.shorthash,
        vae_name=model.vae_name,
        vae_hash=model.vae_hash,
        clip_skip=opts.CLIP_stop_at_last_layers,
        ensd=opts.eta_noise_seed_delta if uses_ensd else None,
        rng=opts.randn_source,
        version=services.version,
        extra={**sigma_extras, **choice.infotext, **model.storage.infotext(opts.fp8_storage),
               **({"Emphasis": opts.emphasis} if opts.emphasis != "Original" else {})},
        keys=InfotextKeys.from_options(opts),
    )


def make_rng(shape: tuple[int, int, int], batch: ImagePlan, req: GenerationRequest, opts: Snapshot,
             device: torch.device, latent_factor: int = 8) -> ImageRNG:
    return ImageRNG(shape, list(batch.seeds), subseeds=list(batch.subseeds), subseed_strength=req.subseed_strength,
                    seed_resize_from_h=req.seed_resize_from_h, seed_resize_from_w=req.seed_resize_from_w,
                    eta_noise_seed_delta=opts.eta_noise_seed_delta, source=opts.randn_source.lower(),
                    device=device, latent_factor=latent_factor)
