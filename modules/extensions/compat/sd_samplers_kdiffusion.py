"""A1111's `modules.sd_samplers_kdiffusion`: the k-diffusion sampler table (A1111's labels, function names and
aliases, from Easel's registry), the sampler object `create_sampler` makes, and its CFG wrapper class.

Easel samples with plain functions (modules/sampling); a sampler object is made per batch as A1111's `p.sampler`
(compat/cfg_view.py), and what extensions change on it reaches the run: a subclass's `combine_denoised` on
`model_wrap_cfg` replaces the guidance combination, a replaced `callback_state` runs after every step.
"""
from __future__ import annotations

from modules.extensions.compat.sd_samplers_common import Sampler, SamplerData


class CFGDenoiserKDiffusion:
    """A1111's k-diffusion CFG wrapper, the `model_wrap_cfg` of a sampler object. During a run Easel keeps its
    `step`, `total_steps`, `steps`, `p`, `mask`, `nmask` and `init_latent` current before each
    `combine_denoised` call (compat/cfg_view.py)."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.model_wrap = None
        self.mask = self.nmask = self.init_latent = None
        self.steps = None  # the steps the user asked for
        self.total_steps = None  # the model calls the sampler is expected to make
        self.step = 0
        self.image_cfg_scale = None
        self.padded_cond_uncond = self.padded_cond_uncond_v0 = False
        self.p = None
        self.cond_scale_miltiplier = 1.0  # A1111's spelling
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None
        self.mask_before_denoising = False

    @property
    def inner_model(self):
        """The loaded model as a k_diffusion denoiser D(x, sigma, cond=…) → x0 (`CompVisDenoiser`, or
        `CompVisVDenoiser` for a v model), made at the first read as A1111 makes it; None while no model is
        loaded. During a generation a call is that step's model call (compat/model_call.py)."""
        if self.model_wrap is None:
            self.model_wrap = _denoiser_for_loaded_model()
        return self.model_wrap

    def combine_denoised(self, x_out, conds_list, uncond, cond_scale):
        """uncond + Σ weight·scale·(cond − uncond) per image; x_out [N + B, C, H, W] ends with the B uncond rows,
        conds_list holds each image's (row, weight) pairs, uncond's first dimension is B."""
        denoised_uncond = x_out[-_rows_of(uncond):]  # [B, C, H, W]
        denoised = denoised_uncond.clone()
        for i, conds in enumerate(conds_list):
            for cond_index, weight in conds:
                denoised[i] += (x_out[cond_index] - denoised_uncond[i]) * (weight * cond_scale)
        return denoised

    def get_pred_x0(self, x_in, x_out, sigma):
        return x_out


def _denoiser_for_loaded_model():
    from modules.extensions.compat import k_diffusion_external, shared

    model = shared.sd_model
    if model is None or model._loaded is None:
        return None
    kind = k_diffusion_external.CompVisVDenoiser if model.parameterization == "v" else \
        k_diffusion_external.CompVisDenoiser
    return kind(model, quantize=bool(shared.opts.enable_quantization))


def _rows_of(cond) -> int:
    if isinstance(cond, dict):
        return next(iter(cond.values())).shape[0]
    return cond.shape[0]


CFGDenoiser = CFGDenoiserKDiffusion


class KDiffusionSampler(Sampler):
    """A1111's k-diffusion sampler object (`funcname` is Easel's sampler name). Extensions replace its
    `model_wrap_cfg` with a CFGDenoiserKDiffusion subclass, or its `callback_state` (e.g. ReSharpen,
    Vectorscope CC), which is then called after every sampler step with the step's dict, whose `x` they may
    change in place (compat/cfg_view.py)."""

    def __init__(self, funcname, sd_model=None, options=None):
        super().__init__(funcname)
        self.sd_model = sd_model
        self.options = options or {}
        self.extra_params: list = []
        self.model_wrap_cfg = CFGDenoiserKDiffusion(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def callback_state(self, d: dict) -> None:
        """After step `d["i"]`: stop when a `stop_at` step was set and passed (A1111's behaviour)."""
        from modules.extensions.compat.sd_samplers_common import InterruptedException

        if self.stop_at is not None and d["i"] > self.stop_at:
            raise InterruptedException


_BASE_CALLBACK_STATE = KDiffusionSampler.callback_state


def callback_state_replaced() -> bool:
    """Whether an extension put its own function in KDiffusionSampler.callback_state."""
    return KDiffusionSampler.callback_state is not _BASE_CALLBACK_STATE


TIMESTEP_SAMPLERS = ("DDIM", "DDIM CFG++", "PLMS", "UniPC", "LCM")  # A1111's sd_samplers_timesteps/_lcm rows


def _rows() -> list[SamplerData]:
    from modules.extensions.compat import sd_samplers

    return [row for row in sd_samplers.all_samplers if row.name not in TIMESTEP_SAMPLERS]


def __getattr__(name: str):
    if name == "samplers_data_k_diffusion":
        return _rows()
    if name == "samplers_k_diffusion":
        return [(row.name, row.name, list(row.aliases), dict(row.options)) for row in _rows()]
    if name == "k_diffusion_samplers_map":
        return {row.name: row for row in _rows()}
    raise AttributeError(f"module 'modules.sd_samplers_kdiffusion' has no attribute {name!r}")
