"""A1111's `modules.shared_items`: the choice lists behind its settings' dropdowns, read from the App."""
from __future__ import annotations

from modules.extensions.compat import binding


def list_checkpoint_tiles(use_short: bool = False) -> list[str]:
    from modules.extensions.compat import sd_models

    return sd_models.checkpoint_tiles(use_short)


def refresh_checkpoints() -> None:
    binding.app().services.models.list_checkpoints(refresh=True)


def sd_vae_items() -> list[str]:
    return ["Automatic", "None", *[v.name for v in binding.app().services.models.list_vaes()]]


def refresh_vae_list() -> None:
    binding.app().services.models.list_vaes(refresh=True)


def list_samplers() -> list:
    from modules.extensions.compat import sd_samplers

    return sd_samplers.all_samplers


def cross_attention_optimizations() -> list[str]:
    return ["Automatic", "None"]


def sd_unet_items() -> list[str]:
    return ["Automatic", "None"]


def refresh_unet_list() -> None:
    """Easel has no separate UNet files to list."""


def get_infotext_names() -> list[str]:
    from modules.extensions.compat import shared

    return sorted({info.infotext for info in shared.options_templates.values() if getattr(info, "infotext", None)})


ui_reorder_categories_builtin_items = ["prompt", "image", "inpaint", "sampler", "accordions", "checkboxes",
                                       "dimensions", "cfg", "denoising", "seed", "batch", "override_settings"]


def ui_reorder_categories() -> list[str]:
    return [*ui_reorder_categories_builtin_items, "scripts"]
