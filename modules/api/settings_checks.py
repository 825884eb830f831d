"""Settings sent by a request (POST /options, override_settings), checked before anything is saved or queued:
known keys, valid values, folders inside the data dir, model names that exist, config-file-only keys unchanged.

Also which checkpoint the `sd_model_checkpoint` setting stands for when it is empty (a fresh data dir): A1111
reports, and restores after a job, the checkpoint it actually loaded, so API clients never see ''.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modules.errors import EaselError, InvalidInput

VAE_SPECIAL = ("Automatic", "None")  # besides VAE file names (models/VAE, *.vae.* beside checkpoints)


def check_inside(data_dir: Path, key: str, value: Any) -> None:
    """Folder settings (outdir_*) may not point outside the data dir: requests never reach other files."""
    if not isinstance(value, str):
        return
    root = data_dir.resolve()
    target = (root / value).resolve()
    if target != root and root not in target.parents:
        raise InvalidInput(key, f"{value!r} is outside the data dir", f"a folder inside {root}")


def check_settings(changes: Mapping[str, Any], options, data_dir: Path, field: str) -> None:
    """Settings from a request: known keys, valid values, folders inside the data dir, config-file-only keys
    left as they are (docs/security.md)."""
    from modules.options.store import check_changeable, coerce

    if not isinstance(changes, Mapping):
        raise InvalidInput(field, "expected an object of setting: value")
    for key, value in changes.items():
        if key not in options.table:
            raise InvalidInput(f"{field}.{key}", "unknown setting", "the keys of GET /sdapi/v1/options")
        check_changeable(key, coerce(options.table[key], value), options.get(key), f"{field}.{key}")
        if key.startswith("outdir_"):
            check_inside(data_dir, f"{field}.{key}", value)
        if key == "directories_filename_pattern" and isinstance(value, str):
            from modules.imaging.save_naming import check_folder_pattern

            check_folder_pattern(value, f"{field}.{key}")


def vae_names(models, refresh: bool = False) -> list[str]:
    return [*VAE_SPECIAL, *(v.name for v in models.list_vaes(refresh=refresh))]


def check_model_names(app, changes: Mapping[str, Any], field: str) -> None:
    """`sd_model_checkpoint` must name a checkpoint and `sd_vae` Automatic, None or a listed VAE file (never a
    path): a request cannot make a later job load an arbitrary file. The folders are listed again once before
    a name is refused (a file dropped in since)."""
    if "sd_vae" in changes:
        wanted = changes["sd_vae"]
        if wanted not in vae_names(app.models) and wanted not in vae_names(app.models, refresh=True):
            shown = ", ".join(vae_names(app.models)[:20])
            raise InvalidInput(f"{field}.sd_vae" if field else "sd_vae", f"unknown VAE {wanted!r}", shown)
    if "sd_model_checkpoint" in changes:
        key = f"{field}.sd_model_checkpoint" if field else "sd_model_checkpoint"
        if not changes["sd_model_checkpoint"]:
            raise InvalidInput(key, "names no checkpoint", "a title from GET /sdapi/v1/sd-models")
        try:
            app.models.find_checkpoint(changes["sd_model_checkpoint"])
        except EaselError as e:
            raise InvalidInput(key, e.message) from None


def effective_checkpoint(app) -> str:
    """The title of the checkpoint a job without an override uses: the setting's, or when that is empty the first
    listed checkpoint (the user's own before the built-in model), as the top bar shows; '' with no checkpoint."""
    wanted = app.options.get("sd_model_checkpoint")
    if wanted:
        try:
            return app.models.find_checkpoint(wanted).title
        except EaselError:
            return wanted  # a file gone since: the setting as it is; the next job names the problem
    listed = app.models.list_checkpoints()
    return listed[0].title if listed else ""


def pin_default_checkpoint(app, overrides: Mapping[str, Any]) -> None:
    """A request that overrides the checkpoint while the setting is still empty: the setting first takes the
    checkpoint it stood for, so the next job goes back to that one instead of keeping the override's model
    loaded (A1111 stores the loaded checkpoint's title in the setting the same way)."""
    if overrides.get("sd_model_checkpoint") and not app.options.get("sd_model_checkpoint"):
        title = effective_checkpoint(app)
        if title:
            app.options.set("sd_model_checkpoint", title)
