"""The generation parameters written into each image's infotext (A1111's create_infotext)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modules.pipeline.request import GenerationRequest


@dataclass(frozen=True)
class InfotextKeys:
    """Which optional entries the infotext carries (A1111's Infotext settings add_*_to_info*)."""

    model_name: bool = True
    model_hash: bool = True
    vae_name: bool = True
    vae_hash: bool = True
    version: bool = True
    user: bool = False

    @classmethod
    def from_options(cls, opts) -> InfotextKeys:
        """From a settings Snapshot (or anything with `.get(key, default)`)."""
        return cls(**{name: bool(opts.get(key, getattr(cls, name))) for name, key in INFOTEXT_KEY_SETTINGS.items()})


# InfotextKeys field → the A1111 setting that switches it
INFOTEXT_KEY_SETTINGS = {"model_name": "add_model_name_to_info", "model_hash": "add_model_hash_to_info",
                         "vae_name": "add_vae_name_to_info", "vae_hash": "add_vae_hash_to_info",
                         "version": "add_version_to_infotext", "user": "add_user_name_to_info"}


@dataclass(frozen=True)
class RunFacts:
    """What the run resolved, beyond the request: names, hashes and sampler extras."""

    sampler_label: str
    model_name: str
    model_hash: str | None
    vae_name: str | None = None
    vae_hash: str | None = None
    clip_skip: int = 1
    ensd: int | None = None
    rng: str = "GPU"
    version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # Schedule type, Eta, Sigma churn, Hires …, in order
    keys: InfotextKeys = InfotextKeys()


def infotext_params(req: GenerationRequest, facts: RunFacts, seed: int, subseed: int) -> dict[str, Any]:
    """Key/value pairs for one image; None values are left out when formatted."""
    extra, keys = dict(facts.extra), facts.keys
    varied = req.subseed_strength != 0
    resized = req.seed_resize_from_w > 0 and req.seed_resize_from_h > 0
    params = {
        "Steps": req.steps,
        "Sampler": facts.sampler_label,
        "Schedule type": extra.pop("Schedule type", None),
        "CFG scale": req.cfg_scale,
        "Seed": seed,
        "Size": f"{req.width}x{req.height}",
        "Model hash": (facts.model_hash or None) if keys.model_hash else None,
        "Model": facts.model_name if keys.model_name else None,
        "FP8 weight": extra.pop("FP8 weight", None),
        "Cache FP16 weight for LoRA": extra.pop("Cache FP16 weight for LoRA", None),
        "VAE hash": facts.vae_hash if keys.vae_hash else None,
        "VAE": facts.vae_name if keys.vae_name else None,
        "Variation seed": subseed if varied else None,
        "Variation seed strength": req.subseed_strength if varied else None,
        "Seed resize from": f"{req.seed_resize_from_w}x{req.seed_resize_from_h}" if resized else None,
        "Denoising strength": extra.pop("Denoising strength", None),
        "Conditional mask weight": extra.pop("Conditional mask weight", None),
        "Clip skip": facts.clip_skip if facts.clip_skip > 1 else None,
        "ENSD": facts.ensd or None,
        "Init image hash": extra.pop("Init image hash", None),  # save_init_img (modules/pipeline/init_saving.py)
        "RNG": facts.rng if facts.rng != "GPU" else None,
        **extra,
        **controlnet_params(req),
        "Version": (facts.version or None) if keys.version else None,
        "User": req.user if keys.user else None,  # the signed-in user (page login or --api-auth); None: anonymous
    }
    return {k: v for k, v in params.items() if v is not None}


def controlnet_params(req: GenerationRequest) -> dict[str, str]:
    """sd-webui-controlnet's `ControlNet i` entries (modules/controlnet/infotext.py); none without units."""
    if not req.controlnet_units:
        return {}
    from modules.controlnet.infotext import units_infotext
    from modules.controlnet.preprocessors import default_registry

    return units_infotext(req.controlnet_units, default_registry())
