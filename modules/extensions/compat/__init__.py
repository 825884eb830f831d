"""A1111's module names for extensions, as thin views onto the App. Only extensions import these; the
core never does. `install_aliases()` makes `modules.shared`, `modules.scripts`, … and `launch` resolve here."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

from modules.extensions.compat.absent import REASONS, AbsentModule, is_package

# A1111 name → module in this folder. Names a core module already has (modules.paths, modules.ui, modules.errors)
# are not aliased: `core_extras.extend_core_modules` adds A1111's attributes to those instead.
ALIASES = {
    "modules.scripts": "scripts",
    "modules.scripts_postprocessing": "scripts_postprocessing",
    "modules.script_callbacks": "script_callbacks",
    "modules.shared": "shared",
    "modules.shared_state": "shared",
    "modules.processing": "processing",
    "modules.images": "images",
    "modules.ui_components": "ui_components",
    "modules.ui_common": "ui_common",
    "modules.ui_prompt_styles": "ui_prompt_styles",
    "modules.ui_settings": "ui_settings",
    "modules.ui_extensions": "ui_extensions",
    "modules.extras": "extras",
    "modules.sd_samplers": "sd_samplers",
    "modules.sd_models": "sd_models",
    "modules.sd_vae": "sd_vae",
    "modules.sd_schedulers": "sd_schedulers",
    "modules.devices": "devices",
    "modules.paths_internal": "paths_internal",
    "modules.infotext_utils": "infotext_utils",
    "modules.generation_parameters_copypaste": "infotext_utils",
    "modules.call_queue": "call_queue",
    "modules.progress": "progress",
    "modules.txt2img": "txt2img",
    "modules.img2img": "img2img",
    "modules.cache": "cache",
    "modules.hashes": "hashes",
    "modules.prompt_parser": "prompt_parser",
    "modules.extra_networks": "extra_networks",
    "modules.masking": "masking",
    "modules.timer": "timer",
    "modules.safe": "safe",
    "modules.memmon": "memmon",
    "modules.modelloader": "modelloader",
    "modules.lowvram": "lowvram",
    "modules.sd_samplers_common": "sd_samplers_common",
    "modules.sd_samplers_kdiffusion": "sd_samplers_kdiffusion",
    "modules.sd_samplers_timesteps": "sd_samplers_timesteps",
    "modules.sd_samplers_compvis": "sd_samplers_timesteps",
    "modules.sd_samplers_cfg_denoiser": "sd_samplers_cfg_denoiser",
    "modules.sd_hijack": "sd_hijack",
    "modules.sd_hijack_optimizations": "sd_hijack_optimizations",
    "modules.sd_hijack_unet": "sd_hijack_unet",
    "modules.sd_vae_approx": "sd_vae_approx",
    "modules.api.api": "api_api",
    "modules.api.models": "api_models",
    "modules.ui_extra_networks": "ui_extra_networks",
    "modules.textual_inversion.textual_inversion": "textual_inversion",
    "modules.textual_inversion.dataset": "textual_inversion_dataset",
    "modules.rng": "rng",
    "modules.styles": "styles",
    "modules.util": "util",
    "modules.patches": "patches",
    "modules.script_loading": "script_loading",
    "modules.fifo_lock": "fifo_lock",
    "modules.face_restoration": "face_restoration",
    "modules.upscaler": "upscaler",
    "modules.shared_items": "shared_items",
    "modules.shared_options": "shared_options",
    "modules.shared_cmd_options": "shared_cmd_options",
    "modules.cmd_args": "cmd_args",
    "modules.shared_total_tqdm": "shared_total_tqdm",
    "modules.launch_utils": "launch",
    "launch": "launch",
    # the Stable Diffusion repository A1111 put on sys.path (repositories/stable-diffusion-stability-ai): the
    # helpers and classes extensions import from it; its model code is absent (compat/absent.py says why)
    # A1111's built-in Lora extension's module, importable by its bare name once that extension had loaded
    "networks": "lora_networks",
    "lora": "lora_module",
    "ldm.util": "ldm_util",
    "ldm.modules.diffusionmodules.util": "ldm_diffusion_util",
    "ldm.modules.attention": "ldm_attention",
    "ldm.modules.encoders.modules": "ldm_encoders",
    "ldm.models.diffusion.ddpm": "ldm_ddpm",
    "ldm.modules.diffusionmodules.model": "ldm_vae_model",
    # the k-diffusion repository A1111 put on sys.path: the model wrappers of its sampler objects, Easel's sampler
    # functions under k-diffusion's names (an installed k-diffusion package is another version: these win)
    "k_diffusion": "k_diffusion_pkg",
    "k_diffusion.external": "k_diffusion_external",
    "k_diffusion.utils": "k_diffusion_utils",
    "k_diffusion.sampling": "k_diffusion_sampling",
}

# names whose views win over a package of that name installed beside Easel
ALWAYS_ALIASED = ("k_diffusion",)


BUILTIN_DIR = Path(__file__).resolve().parents[3] / "extensions-builtin"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):  # the target module ran when it was imported
        return None


class _AbsentLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return AbsentModule(spec.name, REASONS[spec.name], spec.submodule_search_locations is not None)

    def exec_module(self, module):  # nothing to run: every attribute read explains the absence
        return None


class _BuiltinScriptLoader(importlib.abc.Loader):
    """`scripts.xyz_grid` & co.: A1111's own scripts sat in its root `scripts/` folder, so extensions import them
    as `scripts.<name>`; Easel ships them as built-in extensions. The module is the one the script loader made."""

    def __init__(self, file: Path):
        self.file = file

    def create_module(self, spec):
        from modules.extensions.compat.loader import load_module

        loaded = sys.modules.get(self.file.name)
        if loaded is not None and getattr(loaded, "__file__", None) == str(self.file):
            return loaded
        return load_module(self.file)

    def exec_module(self, module):  # it ran when the script loader imported it
        return None


def builtin_script(fullname: str) -> Path | None:
    """The built-in extension's file for `scripts.<name>` (A1111's root scripts), or None."""
    prefix, _, name = fullname.partition(".")
    if prefix != "scripts" or not name or "." in name:
        return None
    found = sorted(BUILTIN_DIR.glob(f"*/scripts/{name}.py"))
    return found[0] if found else None


def _exists(fullname: str, path) -> bool:
    """Whether a real module of that name is on disk: Easel's own always wins over an alias (a core package may
    take an A1111 name later, as modules/interrogate did)."""
    return importlib.machinery.PathFinder.find_spec(fullname, path) is not None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        pinned = fullname.split(".")[0] in ALWAYS_ALIASED
        if (fullname in ALIASES or fullname in REASONS) and not pinned and _exists(fullname, path):
            return None
        local = ALIASES.get(fullname)
        if local is not None:
            package = any(name.startswith(fullname + ".") for name in ALIASES)
            return importlib.util.spec_from_loader(fullname, _AliasLoader(f"{__name__}.{local}"), is_package=package)
        builtin = builtin_script(fullname)
        if builtin is not None:
            return importlib.util.spec_from_loader(fullname, _BuiltinScriptLoader(builtin))
        if fullname in REASONS:
            package = is_package(fullname) or any(name.startswith(fullname + ".") for name in ALIASES)
            return importlib.util.spec_from_loader(fullname, _AbsentLoader(), is_package=package)
        return None


def _a1111_top_level(name: str) -> bool:
    """Whether `modules.<name>` is one of A1111's modules (aliased here or absent with a reason)."""
    full = f"modules.{name}"
    return "." not in name and (full in ALIASES or full in REASONS)


def modules_getattr(name: str):
    """`modules.<name>` read as an attribute of the `modules` package (`import modules; modules.shared_items…`):
    A1111 had imported every one of its modules before extensions loaded, so each was already an attribute of the
    package; here the first read imports it."""
    if name.startswith("__") or not _a1111_top_level(name):
        raise AttributeError(f"module 'modules' has no attribute {name!r}")
    return importlib.import_module(f"modules.{name}")


def install_aliases() -> None:
    """Make A1111's module names importable, and readable as attributes of `modules` (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
    package = sys.modules["modules"]
    if "__getattr__" not in vars(package):
        package.__getattr__ = modules_getattr  # type: ignore[attr-defined]


def uninstall_aliases() -> None:
    """For tests: forget the aliases and the modules imported under them."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AliasFinder)]
    if vars(sys.modules["modules"]).get("__getattr__") is modules_getattr:
        del sys.modules["modules"].__getattr__
    for name in [*ALIASES, *REASONS]:
        sys.modules.pop(name, None)
