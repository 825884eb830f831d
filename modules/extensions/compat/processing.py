"""A1111's `modules.processing`: the `p` object with A1111's field names, `Processed`, `process_images(p)`.

`p` is a mutable view of one run: built from the typed request, synced with the run's RunContext around every
hook (modules/extensions/compat/run_sync.py), and turned back into a typed request by `process_images`.
"""
from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

from modules.extensions.compat import binding

opt_C = 4
opt_f = 8

# A1111 attribute → request field where the names differ
RENAMED = {"image_mask": "mask"}


def _request_fields(kind: str) -> list[str]:
    from modules.pipeline.img2img_request import Img2ImgRequest
    from modules.pipeline.request import GenerationRequest

    request_type = Img2ImgRequest if kind == "img2img" else GenerationRequest
    return [f.name for f in dataclasses.fields(request_type)]


class StableDiffusionProcessing:
    """A1111's processing object; keyword arguments are its field names."""

    kind = "txt2img"

    def __init__(self, **kwargs):
        from modules.pipeline.img2img_request import Img2ImgRequest
        from modules.pipeline.request import GenerationRequest

        request_type = Img2ImgRequest if self.kind == "img2img" else GenerationRequest
        defaults = request_type()
        for name in _request_fields(self.kind):
            setattr(self, name, _mutable(getattr(defaults, name)))
        self.sd_model = None
        self.outpath_samples = self.outpath_grids = None
        self.do_not_save_samples = self.do_not_save_grid = False
        self.extra_generation_params: dict[str, Any] = {}
        self.overlay_images = None
        self.scripts = None
        self.script_args: list = []
        self.all_prompts = self.all_negative_prompts = self.all_seeds = self.all_subseeds = None
        self.prompts = self.negative_prompts = self.seeds = self.subseeds = None
        self.iteration = self.batch_index = 0
        self.override_settings_restore_afterwards = True
        self.is_api = False
        self.user = None
        self.disable_extra_networks = False
        self.extra_network_data: dict = {}
        self.comments: dict = {}
        self.sampler = None
        self.is_using_inpainting_conditioning = False
        self.paste_to = None
        self.color_corrections = None
        self.sd_model_name = self.sd_model_hash = self.sd_vae_name = self.sd_vae_hash = None
        self.job_timestamp = "0"
        self.refiner_checkpoint = None
        self.refiner_switch_at = None
        self.cached_c = [None, None]
        self.cached_uc = [None, None]
        self.mask_for_overlay = None
        self.easel_job = None  # the Job this p runs in (set by the host)
        self.easel_result = None  # the last core GenerationResult of process_images
        for key, value in kwargs.items():
            setattr(self, "mask" if key == "image_mask" else key, value)

    # A1111 names kept as aliases of Easel's request fields
    @property
    def image_mask(self):
        return getattr(self, "mask", None)

    @image_mask.setter
    def image_mask(self, value):
        self.mask = value

    def close(self):
        return None

    def to_request(self):
        """The typed request for the core pipeline, from p's current fields (scripts left out: they already ran)."""
        from modules.pipeline.img2img_request import Img2ImgRequest
        from modules.pipeline.request import GenerationRequest

        request_type = Img2ImgRequest if self.kind == "img2img" else GenerationRequest
        values = {name: getattr(self, name) for name in _request_fields(self.kind)}
        values.update(script_name=None, script_args=(), alwayson_scripts={})
        lists = per_image_lists(self)
        if lists:  # consumed by run_sync.pull once the run has its image plan
            self.easel_pending_lists = lists
        for name in ("prompt", "negative_prompt", "seed", "subseed"):
            values[name] = _first(values[name])
        values["styles"] = tuple(values["styles"] or ())
        values["save_images"] = bool(values.get("save_images")) and not self.do_not_save_samples
        if self.kind == "img2img":
            values["init_images"] = tuple(values["init_images"] or ())
        return request_type(**values)

    def get_token_merging_ratio(self, for_hr=False):
        """A1111's rule (modules/pipeline/run_options.py) on the settings this p's job sees."""
        from modules.pipeline.run_options import token_merging_ratio

        if not binding.is_bound():
            return 0.0
        opts = binding.app().options.snapshot(self.override_settings)
        return token_merging_ratio(opts, "hr" if for_hr else self.kind, self.override_settings)


class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    kind = "txt2img"


class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    kind = "img2img"


# A1111 lets a script give one value per image as a list (Prompt matrix: p.prompt = [...], p.seed = [...])
PER_IMAGE = (("prompt", "all_prompts"), ("negative_prompt", "all_negative_prompts"), ("seed", "all_seeds"),
             ("subseed", "all_subseeds"))


def per_image_lists(p) -> dict[str, list]:
    """{"all_prompts": [...], …} for the fields of p that hold a list instead of one value."""
    return {target: list(getattr(p, name)) for name, target in PER_IMAGE
            if isinstance(getattr(p, name, None), (list, tuple)) and getattr(p, name)}


def _mutable(value):
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items") and not isinstance(value, dict):
        return dict(value)
    return value


def _first(value):
    return value[0] if isinstance(value, list) and value else ("" if value is None else value)


def from_request(kind: str, request, job=None) -> StableDiffusionProcessing:
    cls = StableDiffusionProcessingImg2Img if kind == "img2img" else StableDiffusionProcessingTxt2Img
    p = cls()
    for name in _request_fields(kind):
        setattr(p, name, _mutable(getattr(request, name)))
    p.do_not_save_samples = not request.save_images
    p.outpath_samples, p.outpath_grids = _outpaths(kind)
    p.easel_job = job
    return p


def _outpaths(kind: str) -> tuple[str | None, str | None]:
    """A1111 sets `p.outpath_samples/grids` to the tab's output folders; scripts save extra images there."""
    if not binding.is_bound():
        return None, None
    app = binding.app()
    return tuple(str(app.paths.data_dir / app.options.get(f"outdir_{kind}_{what}")) for what in ("samples", "grids"))


class Processed:
    """A1111's result object of `process_images` (and of a script's `run`)."""

    def __init__(self, p, images_list, seed=-1, info="", subseed=None, all_prompts=None, all_negative_prompts=None,
                 all_seeds=None, all_subseeds=None, index_of_first_image=0, infotexts=None, comments=""):
        self.images = images_list
        self.prompt = _first(p.prompt)
        self.negative_prompt = _first(p.negative_prompt)
        self.seed = seed
        self.subseed = subseed
        self.subseed_strength = p.subseed_strength
        self.info = info
        self.comments = "".join(f"{c}\n" for c in p.comments) if isinstance(p.comments, dict) else comments
        self.width, self.height = p.width, p.height
        self.sampler_name, self.cfg_scale, self.steps, self.batch_size = p.sampler_name, p.cfg_scale, p.steps, \
            p.batch_size
        self.image_cfg_scale = getattr(p, "image_cfg_scale", None)
        self.restore_faces = getattr(p, "restore_faces", None)
        self.face_restoration_model = None
        self.sd_model_name, self.sd_model_hash = p.sd_model_name, p.sd_model_hash
        self.sd_vae_name, self.sd_vae_hash = p.sd_vae_name, p.sd_vae_hash
        self.seed_resize_from_w, self.seed_resize_from_h = p.seed_resize_from_w, p.seed_resize_from_h
        self.denoising_strength = getattr(p, "denoising_strength", None)
        self.extra_generation_params = dict(p.extra_generation_params)
        self.index_of_first_image = index_of_first_image
        self.styles = list(p.styles or [])
        self.job_timestamp = p.job_timestamp
        self.clip_skip = _opt("CLIP_stop_at_last_layers", 1)
        self.eta, self.s_churn, self.s_tmin, self.s_tmax, self.s_noise = p.eta, p.s_churn, p.s_tmin, p.s_tmax, \
            p.s_noise
        self.is_using_inpainting_conditioning = p.is_using_inpainting_conditioning
        self.all_prompts = all_prompts or p.all_prompts or [self.prompt]
        self.all_negative_prompts = all_negative_prompts or p.all_negative_prompts or [self.negative_prompt]
        self.all_seeds = all_seeds or p.all_seeds or [self.seed]
        self.all_subseeds = all_subseeds or p.all_subseeds or [self.subseed]
        self.infotexts = infotexts or [info] * len(images_list)
        self.version = binding.app().services.version if binding.is_bound() else ""

    def js(self) -> str:
        return json.dumps({
            "prompt": self.all_prompts[0] if self.all_prompts else self.prompt,
            "all_prompts": self.all_prompts, "negative_prompt": self.negative_prompt,
            "all_negative_prompts": self.all_negative_prompts, "seed": self.seed, "all_seeds": self.all_seeds,
            "subseed": self.subseed, "all_subseeds": self.all_subseeds, "subseed_strength": self.subseed_strength,
            "width": self.width, "height": self.height, "sampler_name": self.sampler_name,
            "cfg_scale": self.cfg_scale, "steps": self.steps, "batch_size": self.batch_size,
            "restore_faces": self.restore_faces, "face_restoration_model": self.face_restoration_model,
            "sd_model_name": self.sd_model_name, "sd_model_hash": self.sd_model_hash,
            "sd_vae_name": self.sd_vae_name, "sd_vae_hash": self.sd_vae_hash,
            "seed_resize_from_w": self.seed_resize_from_w, "seed_resize_from_h": self.seed_resize_from_h,
            "denoising_strength": self.denoising_strength, "extra_generation_params": self.extra_generation_params,
            "index_of_first_image": self.index_of_first_image, "infotexts": self.infotexts, "styles": self.styles,
            "job_timestamp": self.job_timestamp, "clip_skip": self.clip_skip,
            "is_using_inpainting_conditioning": self.is_using_inpainting_conditioning, "version": self.version,
        }, default=str, ensure_ascii=False)

    def infotext(self, p, index: int) -> str:
        return create_infotext(p, self.all_prompts, self.all_seeds, self.all_subseeds, comments=[],
                               position_in_batch=index % self.batch_size, iteration=index // self.batch_size)

    def get_token_merging_ratio(self, for_hr=False):
        return 0.0


# modules A1111's processing.py imports, which extensions reach through it (`processing.images.save_image`)
_IMPORTED = {"images": "modules.images", "shared": "modules.shared", "devices": "modules.devices",
             "sd_samplers": "modules.sd_samplers", "sd_models": "modules.sd_models", "sd_vae": "modules.sd_vae",
             "scripts": "modules.scripts", "prompt_parser": "modules.prompt_parser", "masking": "modules.masking",
             "extra_networks": "modules.extra_networks", "infotext_utils": "modules.infotext_utils",
             "sd_samplers_common": "modules.sd_samplers_common", "paths": "modules.paths", "rng": "modules.rng",
             "lowvram": "modules.lowvram", "errors": "modules.errors", "model_hijack": None}


def __getattr__(name: str):
    import importlib

    if name == "model_hijack":
        return importlib.import_module("modules.sd_hijack").model_hijack
    if name in ("setup_color_correction", "apply_color_correction"):
        return getattr(importlib.import_module("modules.extensions.compat.color_correction"), name)
    if name in _IMPORTED:
        return importlib.import_module(_IMPORTED[name])
    helpers = importlib.import_module("modules.extensions.compat.processing_helpers")
    if name in _HELPERS:
        return getattr(helpers, name)
    raise AttributeError(f"module 'modules.processing' has no attribute {name!r}")


_HELPERS = ("uncrop", "apply_overlay", "decode_latent_batch", "txt2img_image_conditioning",
            "images_tensor_to_samples", "approximation_indexes")


def _opt(key: str, default):
    try:
        return binding.app().options.get(key)
    except Exception:  # noqa: BLE001 - unbound (tests of pure parts) or unknown key
        return default


class _Options:
    """`.get(key, default)` over the bound app's settings (the default when unbound)."""

    def get(self, key: str, default=None):
        return _opt(key, default)


def create_random_tensors(shape, seeds, subseeds=None, subseed_strength=0.0, seed_resize_from_h=0,
                          seed_resize_from_w=0, p=None):
    """Noise [len(seeds), *shape] for the seeds, as a generation makes it (A1111's helper, on Easel's ImageRNG)."""
    from modules.extensions.compat.rng import ImageRNG

    return ImageRNG(shape, seeds, subseeds, subseed_strength, seed_resize_from_h, seed_resize_from_w).next()


def decode_first_stage(model, x):
    """Latents [B, 4, h, w] → images [B, 3, H, W] in -1..1 by the loaded model's VAE."""
    from modules.extensions.compat.sd_samplers_common import samples_to_images_tensor

    return samples_to_images_tensor(x)


def create_binary_mask(image, round: bool = True):  # noqa: A002 - A1111's keyword
    """A mask image → "L"; a painted RGBA layer gives its alpha (rounded to 0/255 unless round=False)."""
    from modules.imaging.masks import binary_mask

    return binary_mask(image, round_alpha=round)


def get_fixed_seed(seed):
    if seed == "" or seed is None:
        seed = -1
    elif isinstance(seed, str):
        try:
            seed = int(seed)
        except ValueError:
            seed = -1
    return int(random.randrange(4294967294)) if seed == -1 else seed


def fix_seed(p) -> None:
    p.seed = get_fixed_seed(p.seed)
    p.subseed = get_fixed_seed(p.subseed)


def create_infotext(p, all_prompts, all_seeds, all_subseeds, comments=None, iteration=0, position_in_batch=0,
                    use_main_prompt=False, index=None, all_negative_prompts=None) -> str:
    """The infotext of one image of p, as the core writes it (Steps, Sampler, …, p.extra_generation_params)."""
    from modules.imaging.infotext import format_infotext
    from modules.pipeline.params import InfotextKeys, RunFacts, infotext_params

    index = position_in_batch + iteration * p.batch_size if index is None else index
    negatives = all_negative_prompts or p.all_negative_prompts or [_first(p.negative_prompt)]
    prompt = _first(p.prompt) if use_main_prompt else all_prompts[min(index, len(all_prompts) - 1)]
    facts = RunFacts(sampler_label=p.sampler_name, model_name=p.sd_model_name or "", model_hash=p.sd_model_hash,
                     vae_name=p.sd_vae_name, vae_hash=p.sd_vae_hash, clip_skip=int(_opt("CLIP_stop_at_last_layers",
                                                                                         1)),
                     version=binding.app().services.version if binding.is_bound() else "",
                     extra={k: v for k, v in p.extra_generation_params.items() if v is not None},
                     keys=InfotextKeys.from_options(_Options()))
    request = p.to_request()
    seed = all_seeds[min(index, len(all_seeds) - 1)] if all_seeds else p.seed
    subseed = all_subseeds[min(index, len(all_subseeds) - 1)] if all_subseeds else p.subseed
    return format_infotext(prompt, negatives[min(index, len(negatives) - 1)],
                           infotext_params(request, facts, seed, subseed))


def process_images(p) -> Processed:
    """A1111's entry for every generation (the tabs, the API, scripts' own runs): calls `process_images_inner`
    through this module, so an extension that replaced that one (ControlNet, ADetailer) wraps each run."""
    return process_images_inner(p)


def process_images_inner(p) -> Processed:
    """Run the core pipeline for p with the always-on scripts' hooks; the script host owns the details."""
    host = binding.host()
    if host is None:
        raise RuntimeError("process_images needs Easel's script host (extensions are not loaded)")
    return host.process_images(p)
