"""A1111's `modules.sd_models`: the checkpoint list as CheckpointInfo rows (title, model_name, name, filename, hash,
sha256, shorthash), name matching, selection and (re)loading — views onto the App's ModelManager."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
from typing import Any

from modules.extensions.compat import binding
from modules.extensions.compat.sd_model_view import checkpoint_info_view
from modules.models.weight_storage import fp8_setting

model_dir = "Stable-diffusion"
RE_HASH_SUFFIX = re.compile(r"\s\[[^]]*]$")


class CheckpointInfo:
    """A1111's CheckpointInfo fields for one of Easel's checkpoints."""

    def __init__(self, core):
        self._core = core
        self.__dict__.update(vars(checkpoint_info_view(core)))
        self.name_for_extra = core.model_name

    def calculate_shorthash(self) -> str | None:
        """Hash the file if needed (cached by path, size and mtime) and return the short hash."""
        models = binding.app().services.models
        self.sha256 = models.hash_cache.sha256(self._core.path, f"checkpoint/{self._core.name}")
        self.shorthash = (self.sha256 or "")[:10] or None
        self.title = f"{self.name} [{self.shorthash}]" if self.shorthash else self.name
        return self.shorthash

    def __repr__(self) -> str:
        return f"CheckpointInfo({self.title!r})"


def _infos(refresh: bool = False) -> list[CheckpointInfo]:
    return [CheckpointInfo(c) for c in binding.app().services.models.list_checkpoints(refresh)]


def _aliases() -> dict[str, CheckpointInfo]:
    out: dict[str, CheckpointInfo] = {}
    for info in _infos():
        for key in (info.name, info.model_name, info.shorthash, info.sha256, info.title, info.filename):
            if key:
                out.setdefault(key, info)
    return out


_DYNAMIC = {
    "checkpoints_list": lambda: {info.title: info for info in _infos()},
    "checkpoint_aliases": _aliases,
    "checkpoint_alisases": _aliases,  # A1111 kept this misspelling for old extensions
    "model_path": lambda: str(binding.app().paths.checkpoint_dir),
}


def __getattr__(name: str) -> Any:
    if name in _DYNAMIC:
        return _DYNAMIC[name]()
    raise AttributeError(f"module 'modules.sd_models' has no attribute {name!r}")


def list_models() -> None:
    """Re-scan the checkpoint folders."""
    binding.app().services.models.list_checkpoints(refresh=True)


def checkpoint_tiles(use_short: bool = False) -> list[str]:
    return [info.short_title if use_short else info.title for info in _infos()]


def get_closet_checkpoint_match(search_string: str | None) -> CheckpointInfo | None:
    """A1111's lookup: an exact alias, else the shortest title containing the text (then without its [hash])."""
    if not search_string:
        return None
    found = _aliases().get(search_string)
    if found is not None:
        return found
    infos = _infos()
    for text in (search_string, RE_HASH_SUFFIX.sub("", search_string)):
        matches = sorted((i for i in infos if text in i.title), key=lambda i: len(i.title))
        if matches:
            return matches[0]
    return None


def select_checkpoint() -> CheckpointInfo | None:
    """The checkpoint the `sd_model_checkpoint` setting selects (the loaded or first one when it is empty)."""
    app = binding.app()
    models = app.services.models
    chosen = app.options.get("sd_model_checkpoint")
    if chosen:
        match = get_closet_checkpoint_match(chosen)
        if match is not None:
            return match
    current = models.current
    if current is not None:
        return CheckpointInfo(current.checkpoint)
    infos = _infos()
    return infos[0] if infos else None


def model_hash(filename) -> str:
    """A1111's old 8-character model hash: sha256 of 64 KiB at offset 1 MiB ("NOFILE" when unreadable)."""
    try:
        with open(filename, "rb") as file:
            file.seek(0x100000)
            return hashlib.sha256(file.read(0x10000)).hexdigest()[0:8]
    except OSError:
        return "NOFILE"


def _loaded_view():
    from modules.extensions.compat.sd_model_view import current_model_view

    return current_model_view()


def reload_model_weights(sd_model=None, info=None, forced_reload: bool = False):
    """Load `info` (default: the selected checkpoint) and return `shared.sd_model`. Inside a generation, prefer
    `p.override_settings['sd_model_checkpoint']`, as A1111's own scripts do."""
    app = binding.app()
    info = info or select_checkpoint()
    if info is None:
        return None
    if forced_reload:
        app.services.models.unload()
    app.services.models.get(info.filename if os.path.isabs(str(info.filename)) else info.title,
                            app.options.get("sd_vae"), fp8_setting(app.options))
    return _loaded_view()


def load_model(checkpoint_info=None, already_loaded_state_dict=None):
    """Load `checkpoint_info` (default: the selected checkpoint) and return `shared.sd_model`. With
    `already_loaded_state_dict` (a merge held in memory, as sd-webui-supermerger makes) those weights are loaded
    instead of the file's, named by the info's name and hash; the info's file gives the yaml config, and the model
    stays loaded while that file is the one selected (A1111 compares file names before reloading)."""
    if already_loaded_state_dict is None:
        return reload_model_weights(info=checkpoint_info)
    app = binding.app()
    info = checkpoint_info or select_checkpoint()
    if info is None:
        raise ValueError("load_model: no checkpoint_info given and no checkpoint to name the weights after")
    app.services.models.load_tensors(_core_info(info), already_loaded_state_dict, app.options.get("sd_vae"),
                                     fp8_setting(app.options))
    return _loaded_view()


def _core_info(info):
    """Easel's CheckpointInfo for an A1111 one an extension may have renamed (name, title and sha256 of a merge)."""
    from dataclasses import replace
    from pathlib import Path

    from modules.models.discovery import CheckpointInfo as CoreInfo

    core = getattr(info, "_core", None)
    if core is None:
        core = CoreInfo(Path(info.filename), os.path.basename(str(info.filename)))
    return replace(core, name=getattr(info, "name", None) or core.name, sha256=getattr(info, "sha256", None))


def unload_model_weights(sd_model=None, info=None):
    binding.app().services.models.unload()
    return None


def get_checkpoint_state_dict(checkpoint_info, timer=None):
    raise NotImplementedError("Easel's ModelManager is the only reader of checkpoint files")


checkpoints_loaded: dict = {}  # A1111's cache of state dicts in RAM; Easel's ModelManager keeps none for extensions


def read_metadata_from_safetensors(filename) -> dict:
    """The `__metadata__` of a .safetensors file; values that are JSON text are decoded (A1111's behaviour)."""
    import json

    from modules.models.safetensors_io import SafetensorsFile

    with SafetensorsFile(filename) as file:
        metadata = dict(file.metadata or {})
    for key, value in metadata.items():
        if isinstance(value, str) and value[:1] == "{":
            with contextlib.suppress(ValueError):
                metadata[key] = json.loads(value)
    return metadata


def read_state_dict(checkpoint_file, print_global_state: bool = False, map_location=None) -> dict:
    """Every tensor of a checkpoint (.safetensors, or a .ckpt/.pt through Easel's restricted unpickler unless
    --disable-safe-unpickle), on `map_location` (the CPU by default)."""
    from pathlib import Path

    from modules.extensions.compat import shared

    path = Path(checkpoint_file)
    if path.suffix.lower() == ".safetensors":
        from modules.models.safetensors_io import SafetensorsFile

        with SafetensorsFile(path) as file:
            names = file.keys()  # a list: SafetensorsFile is not iterable itself
            return {key: file.read(key, device=map_location or "cpu") for key in names}
    from modules.models.safe_load import load_pickle_state_dict

    state = load_pickle_state_dict(path, bool(shared.cmd_opts.disable_safe_unpickle))
    return {k: v.to(map_location) for k, v in state.items()} if map_location else state


class SdModelData:
    """A1111's `model_data`: the loaded model and the list of loaded ones, read from Easel's ModelManager."""

    was_loaded_at_least_once = property(lambda self: binding.app().services.models.current is not None)

    @property
    def sd_model(self):
        return _loaded_view()

    @property
    def loaded_sd_models(self) -> list:
        loaded = _loaded_view() if binding.app().services.models.current is not None else None
        return [loaded] if loaded is not None else []

    def get_sd_model(self):
        """The loaded model (loading the selected checkpoint first if none is), as `shared.sd_model`."""
        if binding.app().services.models.current is None:
            reload_model_weights()
        return _loaded_view()

    def set_sd_model(self, v, already_loaded: bool = False) -> None:
        raise RuntimeError("Easel's ModelManager owns the loaded model: set the sd_model_checkpoint setting or "
                           "call sd_models.reload_model_weights(info=…) instead")


model_data = SdModelData()
