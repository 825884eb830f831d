"""A1111's `modules.sd_vae`: the VAE files (`vae_dict` file name → path), which one the `sd_vae` setting picks,
and reloading — views onto the App's ModelManager."""
from __future__ import annotations

import os
from collections import namedtuple
from typing import Any

from modules.extensions.compat import binding

unspecified = object()
VaeResolution = namedtuple("VaeResolution", ["vae", "source", "resolved"], defaults=(None, None, True))
vae_ignore_keys = {"model_ema.decay", "model_ema.num_updates"}


def _models():
    return binding.app().services.models


def get_filename(filepath) -> str:
    return os.path.basename(filepath)


def _vae_dict() -> dict[str, str]:
    return {vae.name: str(vae.path) for vae in _models().list_vaes()}


def _loaded():
    return _models().current


_DYNAMIC = {
    "vae_dict": _vae_dict,
    "vae_path": lambda: str(binding.app().paths.vae_dir),
    "loaded_vae_file": lambda: str(_loaded().vae_path) if _loaded() is not None and _loaded().vae_path else None,
    "base_vae": lambda: None,  # the checkpoint's own VAE lives inside the loaded model
    "checkpoint_info": lambda: _loaded().checkpoint if _loaded() is not None else None,
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.sd_vae' has no attribute {name!r}")


def refresh_vae_list() -> None:
    _models().list_vaes(refresh=True)


def find_vae_near_checkpoint(checkpoint_file) -> str | None:
    """A VAE file whose name starts with the checkpoint's file name (A1111's "Automatic" rule)."""
    stem = os.path.splitext(os.path.basename(checkpoint_file))[0]
    return next((path for name, path in _vae_dict().items() if name.startswith(stem)), None)


def resolve_vae(checkpoint_file) -> VaeResolution:
    """Which VAE file the `sd_vae` setting means for this checkpoint (None: the checkpoint's own)."""
    choice = binding.app().options.get("sd_vae")
    if choice == "None":
        return VaeResolution(None, "from settings (None)")
    if choice != "Automatic":
        path = _vae_dict().get(choice)
        if path is not None:
            return VaeResolution(path, "specified in settings")
    near = find_vae_near_checkpoint(checkpoint_file)
    return VaeResolution(near, "found near the checkpoint") if near else VaeResolution(None, "baked in")


def reload_vae_weights(sd_model=None, vae_file=unspecified):
    """Load `vae_file` (a path or file name; None: the baked-in VAE; default: the `sd_vae` setting) into the
    current model. Inside a generation, prefer `p.override_settings['sd_vae']`, as A1111's own scripts do."""
    app = binding.app()
    models = _models()
    if vae_file is unspecified:
        choice = app.options.get("sd_vae")
    else:
        choice = "None" if vae_file is None else os.path.basename(str(vae_file))
    current = models.current
    models.get(current.checkpoint.title if current is not None else app.options.get("sd_model_checkpoint") or None,
               choice)
    from modules.extensions.compat.sd_model_view import current_model_view

    return current_model_view()
