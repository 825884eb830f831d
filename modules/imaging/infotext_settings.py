"""Which infotext keys set which settings when an infotext is pasted (A1111: every option declared with an
`infotext` name), shared by the API's `infotext` field and the page's "Override settings" box.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

def flag(text: str) -> bool:
    """An infotext boolean ("True" / "False").

    >>> flag("True"), flag("False")
    (True, False)
    """
    return str(text).strip().lower() == "true"


def a1111_bool(text: str) -> bool:
    """A1111's `cast_value` for a boolean setting: only "False" (or nothing) is off, so `Face restoration: CodeFormer`
    turns face restoration on.

    >>> a1111_bool("CodeFormer"), a1111_bool("False"), a1111_bool("True")
    (True, False, True)
    """
    return bool(text) and str(text) != "False"


# infotext key → (setting, type): these become override_settings unless the request sets them (A1111: every
# setting declared with an `infotext` name, modules/shared_options.py and the built-in extensions).
INFOTEXT_SETTINGS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("Face restoration", "face_restoration", a1111_bool),
    ("Emphasis", "emphasis", str),
    ("Clip skip", "CLIP_stop_at_last_layers", int),
    ("ENSD", "eta_noise_seed_delta", int),
    ("RNG", "randn_source", str),
    ("Tiling", "tiling", a1111_bool),
    ("Hires refiner", "hires_fix_refiner_pass", str),
    ("VAE Encoder", "sd_vae_encode_method", str),
    ("VAE Decoder", "sd_vae_decode_method", str),
    ("Conditional mask weight", "inpainting_mask_weight", float),
    ("Noise multiplier", "initial_noise_multiplier", float),
    ("NGMS", "s_min_uncond", float),
    ("NGMS all steps", "s_min_uncond_all", a1111_bool),
    ("Pad conds", "pad_cond_uncond", a1111_bool),
    ("Pad conds v0", "pad_cond_uncond_v0", a1111_bool),
    ("Old prompt editing timelines", "use_old_scheduling", a1111_bool),
    ("Refiner switch by sampling steps", "refiner_switch_by_sample_steps", a1111_bool),
    ("Eta DDIM", "eta_ddim", float),
    ("Eta", "eta_ancestral", float),
    ("Sigma churn", "s_churn", float),
    ("Sigma tmin", "s_tmin", float),
    ("Sigma tmax", "s_tmax", float),
    ("Sigma noise", "s_noise", float),
    ("Schedule min sigma", "sigma_min", float),
    ("Schedule max sigma", "sigma_max", float),
    ("Schedule rho", "rho", float),
    ("Discard penultimate sigma", "always_discard_next_to_last_sigma", a1111_bool),
    ("Beta scheduler alpha", "beta_dist_alpha", float),
    ("Beta scheduler beta", "beta_dist_beta", float),
    ("Beta schedule alpha", "beta_dist_alpha", float),  # what A1111 writes (it reads the "scheduler" spelling)
    ("Beta schedule beta", "beta_dist_beta", float),
    ("Extra noise", "img2img_extra_noise", float),
    ("Token merging ratio", "token_merging_ratio", float),
    ("Token merging ratio hr", "token_merging_ratio_hr", float),
    ("DeepCache interval", "deep_cache_interval", int),
    ("SGM noise multiplier", "sgm_noise_multiplier", flag),
    ("UniPC variant", "uni_pc_variant", str),  # A1111 writes no UniPC key; it reads them when pasting
    ("UniPC skip type", "uni_pc_skip_type", str),
    ("UniPC order", "uni_pc_order", int),
    ("UniPC lower order final", "uni_pc_lower_order_final", flag),
    ("Skip Early CFG", "skip_early_cond", float),
    ("Noise Schedule", "sd_noise_schedule", str),
    ("Downcast alphas_cumprod", "use_downcasted_alpha_bar", flag),
    ("Hypertile U-Net", "hypertile_enable_unet", flag),
    ("Hypertile U-Net second pass", "hypertile_enable_unet_secondpass", flag),
    ("Hypertile U-Net max depth", "hypertile_max_depth_unet", int),
    ("Hypertile U-Net max tile size", "hypertile_max_tile_unet", int),
    ("Hypertile U-Net swap size", "hypertile_swap_size_unet", int),
    ("Hypertile VAE", "hypertile_enable_vae", flag),
    ("Hypertile VAE max depth", "hypertile_max_depth_vae", int),
    ("Hypertile VAE max tile size", "hypertile_max_tile_vae", int),
    ("Hypertile VAE swap size", "hypertile_swap_size_vae", int),
)


def _typed(kind: Callable[[str], Any], text: object) -> Any:
    value = str(text)
    return int(float(value)) if kind is int else kind(value)


def override_pairs(params: Mapping[str, object], current: Mapping[str, Any], handled: Iterable[str] = ()) -> list[str]:
    """The "Key: value" entries of A1111's Override settings box for a pasted infotext: each setting the infotext
    names whose value differs from its `current` one, except `handled` settings (fields of the page already
    showing them, e.g. Clip skip in the top bar) and settings `current` does not have. Unreadable values are
    left out.

    >>> override_pairs({"Eta": "0.5", "Clip skip": "2", "RNG": "GPU"}, {"eta_ancestral": 1.0, "randn_source": "GPU",
    ...                "CLIP_stop_at_last_layers": 1}, handled={"CLIP_stop_at_last_layers"})
    ['Eta: 0.5']
    """
    pairs, skip = [], set(handled)
    for key, setting, kind in INFOTEXT_SETTINGS:
        if key not in params or setting in skip or setting not in current:
            continue
        try:
            value = _typed(kind, params[key])
        except ValueError:
            continue
        if value != current[setting]:
            pairs.append(f"{key}: {value}")
            skip.add(setting)
    return pairs


def overrides_from_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """The Override settings box's entries → {setting: typed value} (A1111's `create_override_settings_dict`);
    an entry it cannot read is left out.

    >>> overrides_from_pairs(["Eta: 0.5", "Tiling: True", "Noise: x", "nonsense"])
    {'eta_ancestral': 0.5, 'tiling': True}
    """
    by_key = {key: (setting, kind) for key, setting, kind in reversed(INFOTEXT_SETTINGS)}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = str(pair).partition(": ")
        if not sep or key not in by_key:
            continue
        setting, kind = by_key[key]
        try:
            out[setting] = _typed(kind, text)
        except ValueError:
            continue
    return out
