"""Request fields that fall back to a setting when unset (A1111: `p.tiling`, `p.s_min_uncond`), resolved once per
run into plain values with their infotext entries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.models.speedups.options import HyperTile, UnetPatches


def tiling_enabled(req, opts) -> bool:
    """The request's `tiling`, or the "tiling" setting when the request leaves it unset (None)."""
    return bool(opts.tiling if req.tiling is None else req.tiling)


def tiling_infotext(enabled: bool) -> dict[str, Any]:
    """A1111 writes `Tiling: True` only when tiling was on."""
    return {"Tiling": "True"} if enabled else {}


@dataclass(frozen=True)
class NegativeGuidanceMinimum:
    """A1111's two ways of skipping the negative prompt's UNet pass. NGMS: below `sigma` it is skipped on every
    other model call (every call with `all_steps`), saving time when the picture is nearly done; `sigma` 0 is
    off. `skip_early` (the skip_early_cond setting): the first fraction of the model calls skip it, CFG off,
    which A1111 says can help diversity; 0 is off, and it wins over NGMS where both apply."""

    sigma: float = 0.0
    all_steps: bool = False
    skip_early: float = 0.0

    def cfg_fields(self, total_calls: int = 0) -> dict[str, Any]:
        """Keyword arguments for `CFGDenoiser`; `total_calls` is A1111's denominator for `skip_early`: the pass's
        steps, doubled for second-order samplers (`SamplerSpec.total_steps`)."""
        return {"s_min_uncond": self.sigma, "s_min_uncond_all": self.all_steps,
                "skip_early_cond": self.skip_early, "skip_early_total": total_calls}

    def infotext(self) -> dict[str, Any]:
        """Entries A1111 adds once a pass was actually skipped.

        >>> NegativeGuidanceMinimum(2.5).infotext(), NegativeGuidanceMinimum(2.5, True).infotext()
        ({'NGMS': 2.5}, {'NGMS': 2.5, 'NGMS all steps': True})
        """
        return {"NGMS": self.sigma, **({"NGMS all steps": True} if self.all_steps else {})}

    def note_skips(self, cfg, notes: dict | None) -> None:
        """After a sampling pass: record the NGMS entries in the run's infotext `notes` if `cfg` skipped any
        uncond pass, and `Skip Early CFG` if the early rule applied."""
        if notes is not None and getattr(cfg, "uncond_skipped", False):
            notes.update(self.infotext())
        if notes is not None and getattr(cfg, "early_skipped", False):
            notes["Skip Early CFG"] = self.skip_early


def negative_guidance_minimum(req, opts) -> NegativeGuidanceMinimum:
    """The request's `s_min_uncond` (None: the setting), with the "all steps" and skip_early_cond settings."""
    sigma = opts.s_min_uncond if req.s_min_uncond is None else req.s_min_uncond
    return NegativeGuidanceMinimum(float(sigma), bool(opts.s_min_uncond_all), float(opts.skip_early_cond))


def sgm_noise_multiplier(opts, spec) -> bool:
    """The "SGM noise multiplier" setting where it changes the start noise: A1111 reads it in its k-diffusion
    samplers' txt2img pass alone (never img2img or hires fix); its timestep samplers (the rows with
    "vp_initial_noise": DDIM, PLMS, UniPC) start from sqrt(1 + sigma_max^2) anyway and write no infotext."""
    return bool(opts.sgm_noise_multiplier) and not spec.options.get("vp_initial_noise", False)


def token_merging_ratio(opts, kind: str, overrides=None) -> float:
    """A1111's `get_token_merging_ratio`: `kind` is "txt2img", "img2img" or "hr" (hires fix's second pass).
    img2img takes its own setting unless the request overrides the main one; the second pass takes its own setting
    unless that is 0.

    >>> o = type("O", (), {"token_merging_ratio": 0.3, "token_merging_ratio_img2img": 0.5,
    ...                    "token_merging_ratio_hr": 0.0})()
    >>> token_merging_ratio(o, "txt2img"), token_merging_ratio(o, "img2img"), token_merging_ratio(o, "hr")
    (0.3, 0.5, 0.3)
    >>> token_merging_ratio(o, "img2img", {"token_merging_ratio": 0.3})
    0.3
    """
    if kind == "hr":
        return float(opts.token_merging_ratio_hr or opts.token_merging_ratio)
    if kind == "img2img":
        chosen = opts.token_merging_ratio if "token_merging_ratio" in (overrides or {}) else 0.0
        return float(chosen or opts.token_merging_ratio_img2img or opts.token_merging_ratio)
    return float(opts.token_merging_ratio)


def hypertile_on(opts, kind: str) -> bool:
    """A1111's Hypertile: on for every pass, or for hires fix's second pass alone."""
    return bool(opts.hypertile_enable_unet or (kind == "hr" and opts.hypertile_enable_unet_secondpass))


def unet_patches(opts, kind: str, seed: int, overrides=None) -> UnetPatches:
    """The speed options of one pass (docs/performance.md); `seed` (the batch's first) seeds HyperTile."""
    tiles = HyperTile(int(opts.hypertile_max_depth_unet), int(opts.hypertile_max_tile_unet),
                      int(opts.hypertile_swap_size_unet), int(seed)) if hypertile_on(opts, kind) else None
    return UnetPatches(token_merging_ratio(opts, kind, overrides), int(opts.deep_cache_interval), tiles)


def speed_infotext(opts, kind: str, hires: bool, overrides=None) -> dict[str, Any]:
    """The infotext entries of the speed options, as A1111 writes them (Hypertile's extension writes its sizes only
    where they differ from the defaults); `kind` is the first pass's, `hires` whether a second pass runs."""
    info: dict[str, Any] = {}
    ratio = token_merging_ratio(opts, kind, overrides)
    if ratio:
        info["Token merging ratio"] = ratio
    if hires and token_merging_ratio(opts, "hr"):
        info["Token merging ratio hr"] = token_merging_ratio(opts, "hr")
    second_only = hires and not opts.hypertile_enable_unet and opts.hypertile_enable_unet_secondpass
    if opts.hypertile_enable_unet:
        info["Hypertile U-Net"] = True
    if second_only:
        info["Hypertile U-Net second pass"] = True
    if opts.hypertile_enable_unet or second_only:
        for key, name, default in HYPERTILE_INFOTEXT:
            if getattr(opts, name) != default:
                info[key] = getattr(opts, name)
    if opts.hypertile_enable_vae:
        info["Hypertile VAE"] = True
        for key, name, default in HYPERTILE_VAE_INFOTEXT:
            if getattr(opts, name) != default:
                info[key] = getattr(opts, name)
    if opts.deep_cache_interval > 1:
        info["DeepCache interval"] = int(opts.deep_cache_interval)
    return info


# infotext key, setting, default (A1111's Hypertile extension)
HYPERTILE_INFOTEXT = (("Hypertile U-Net max depth", "hypertile_max_depth_unet", 3),
                      ("Hypertile U-Net max tile size", "hypertile_max_tile_unet", 256),
                      ("Hypertile U-Net swap size", "hypertile_swap_size_unet", 3))
HYPERTILE_VAE_INFOTEXT = (("Hypertile VAE max depth", "hypertile_max_depth_vae", 3),
                          ("Hypertile VAE max tile size", "hypertile_max_tile_vae", 128),
                          ("Hypertile VAE swap size", "hypertile_swap_size_vae", 3))


def start_cond_cache(conditioning, opts) -> None:
    """A1111's persistent_cond_cache (on): encoded prompts are kept from one job to the next. Off, a job starts
    with none kept (it still reuses its own across steps, batches and passes, as A1111 does)."""
    if not opts.persistent_cond_cache and conditioning is not None:
        conditioning.clear()
