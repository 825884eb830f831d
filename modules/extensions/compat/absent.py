"""A1111 module names with nothing behind them in Easel: A1111's own model code, its hijacks of ldm/CLIP, its UI
builders and its training tabs. They import, so an extension that names one at the top of a file still loads; any
name read from one fails with an AttributeError that says what the module was and why Easel has none.
"""
from __future__ import annotations

import types

_MODEL_CODE = "A1111's copy of model code; Easel's models are diffusers classes (modules/models)"
_HIJACK = "A1111 patches ldm/CLIP classes at load; Easel encodes prompts itself (modules/conditioning)"
_UI = "a part of A1111's page builder; Easel builds its page in modules/ui"
_TRAIN = "A1111's training tab; Easel has no hypernetwork or embedding training in the UI"
_PLATFORM = "A1111's start-up or platform glue; Easel's start-up is webui.py"
_UPSCALE = "A1111's upscaler loader; Easel loads upscaler models with spandrel (modules/upscalers)"
_INTERROGATE = ("A1111's interrogator classes; Easel's are modules/interrogate, reached through the img2img "
                "buttons and POST /sdapi/v1/interrogate")
_SAMPLER = "A1111's sampler code; Easel's samplers are plain functions (modules/sampling)"
_LDM = ("the Stable Diffusion repository's model code, which A1111 ran; Easel's models are diffusers classes "
        "(modules/models), so patching these classes would change nothing")
REASON_LDM_MODEL_CODE = _LDM
_LDM_PACKAGE = "a package of the Stable Diffusion repository; Easel has ldm.util, ldm.modules.diffusionmodules.util, " \
               "ldm.modules.attention (its feed-forward blocks) and ldm.modules.encoders.modules of it"

REASONS: dict[str, str] = {
    "modules.codeformer_model": _UPSCALE, "modules.gfpgan_model": _UPSCALE, "modules.esrgan_model": _UPSCALE,
    "modules.realesrgan_model": _UPSCALE, "modules.dat_model": _UPSCALE, "modules.hat_model": _UPSCALE,
    "modules.upscaler_utils": _UPSCALE, "modules.face_restoration_utils": _UPSCALE,
    "modules.config_states": "A1111's saved extension states; Easel's Extensions tab keeps no backups",
    "modules.deepbooru": _INTERROGATE, "modules.deepbooru_model": _INTERROGATE,
    "modules.extra_networks_hypernet": "hypernetworks; Easel loads LoRA and embeddings only",
    "modules.hypernetworks": "hypernetworks; Easel loads LoRA and embeddings only",
    "modules.hypernetworks.hypernetwork": "hypernetworks; Easel loads LoRA and embeddings only",
    "modules.hypernetworks.ui": _TRAIN,
    "modules.textual_inversion": "A1111's embeddings package (see modules.textual_inversion.textual_inversion)",
    "modules.textual_inversion.autocrop": _TRAIN,
    "modules.textual_inversion.image_embedding": "embeddings hidden in PNG images; Easel reads .pt, .bin and "
                                                 ".safetensors embeddings",
    "modules.textual_inversion.learn_schedule": _TRAIN, "modules.textual_inversion.saving_settings": _TRAIN,
    "modules.textual_inversion.ui": _TRAIN,
    "modules.gitpython_hack": _PLATFORM, "modules.import_hook": _PLATFORM, "modules.initialize": _PLATFORM,
    "modules.initialize_util": _PLATFORM, "modules.logging_config": _PLATFORM, "modules.ngrok": _PLATFORM,
    "modules.mac_specific": _PLATFORM, "modules.npu_specific": _PLATFORM, "modules.xpu_specific": _PLATFORM,
    "modules.sysinfo": _PLATFORM, "modules.shared_init": _PLATFORM, "modules.gradio_extensons": _UI,
    "modules.ui_gradio_extensions": _UI, "modules.profiling": _PLATFORM, "modules.restart": _PLATFORM,
    "modules.sd_disable_initialization": _MODEL_CODE, "modules.sd_models_config": _MODEL_CODE,
    "modules.sd_models_types": _MODEL_CODE, "modules.sd_models_xl": _MODEL_CODE, "modules.sd_unet": _MODEL_CODE,
    "modules.models.diffusion": _MODEL_CODE, "modules.models.diffusion.ddpm_edit": _MODEL_CODE,
    "modules.models.diffusion.uni_pc": _SAMPLER, "modules.models.diffusion.uni_pc.sampler": _SAMPLER,
    "modules.models.diffusion.uni_pc.uni_pc": _SAMPLER,
    "modules.models.sd3": _MODEL_CODE, "modules.models.sd3.mmdit": _MODEL_CODE,
    "modules.models.sd3.other_impls": _MODEL_CODE, "modules.models.sd3.sd3_cond": _MODEL_CODE,
    "modules.models.sd3.sd3_impls": _MODEL_CODE, "modules.models.sd3.sd3_model": _MODEL_CODE,
    "modules.xlmr": _MODEL_CODE, "modules.xlmr_m18": _MODEL_CODE, "modules.sd_vae_taesd": _MODEL_CODE,
    "modules.sd_hijack_checkpoint": _HIJACK, "modules.sd_hijack_clip": _HIJACK, "modules.sd_hijack_clip_old": _HIJACK,
    "modules.sd_hijack_ip2p": _HIJACK, "modules.sd_hijack_open_clip": _HIJACK,
    "modules.sd_hijack_utils": _HIJACK, "modules.sd_hijack_xlmr": _HIJACK,
    "modules.sub_quadratic_attention": "an attention kernel; Easel uses torch's scaled-dot-product attention",
    "modules.sd_samplers_extra": _SAMPLER, "modules.sd_samplers_lcm": _SAMPLER,
    "modules.sd_samplers_timesteps_impl": _SAMPLER, "modules.rng_philox": _SAMPLER,
    "modules.processing_scripts": "A1111's built-in always-on scripts (seed, sampler, refiner, comments); "
                                  "Easel's page and pipeline have these fields themselves",
    "modules.processing_scripts.comments": "see modules.processing_scripts",
    "modules.processing_scripts.refiner": "see modules.processing_scripts",
    "modules.processing_scripts.sampler": "see modules.processing_scripts",
    "modules.processing_scripts.seed": "see modules.processing_scripts",
    "modules.postprocessing": _UI,
    "modules.ui_checkpoint_merger": _UI, "modules.ui_loadsave": _UI,
    "modules.ui_postprocessing": _UI,
    "modules.ui_tempdir": _UI, "modules.ui_toprow": _UI, "modules.ui_extra_networks_checkpoints": _UI,
    "modules.ui_extra_networks_checkpoints_user_metadata": _UI, "modules.ui_extra_networks_hypernets": _UI,
    "modules.ui_extra_networks_textual_inversion": _UI, "modules.ui_extra_networks_user_metadata": _UI,
    "modules.infotext_versions": "A1111's infotext version checks; Easel's paste rules are in modules/imaging",
    "modules.torch_utils": _MODEL_CODE,
    "modules.shared_gradio_themes": _UI,
    "modules.scripts_auto_postprocessing": "A1111's wrapper that runs Extras scripts after txt2img/img2img; "
                                           "Easel runs Extras scripts on the Extras tab and its API route",
    "modules.localization": "A1111's localization loader; Easel's is modules/ui/localization.py (same JSON files)",
    "modules.sd_emphasis": "A1111's emphasis classes; Easel's modes are modules/conditioning/emphasis.py",
    "ldm": _LDM_PACKAGE, "ldm.modules": _LDM_PACKAGE, "ldm.modules.encoders": _LDM_PACKAGE,
    "ldm.modules.diffusionmodules": _LDM_PACKAGE,
    "ldm.modules.diffusionmodules.openaimodel": _LDM,
    "ldm.modules.diffusionmodules.upscaling": _LDM, "ldm.modules.distributions": _LDM,
    "ldm.modules.distributions.distributions": _LDM, "ldm.modules.ema": _LDM, "ldm.models": _LDM,
    "ldm.models.autoencoder": _LDM, "ldm.models.diffusion": _LDM,
    "ldm.models.diffusion.ddim": _SAMPLER, "ldm.models.diffusion.plms": _SAMPLER,
    "ldm.models.diffusion.sampling_util": _SAMPLER,
}


class AbsentModule(types.ModuleType):
    """An A1111 module with no counterpart: importable, and every attribute read explains itself."""

    def __init__(self, name: str, reason: str, package: bool):
        super().__init__(name, f"A1111's {name}: not part of Easel ({reason}).")
        self.__reason__ = reason
        if package:
            self.__path__ = []

    def __getattr__(self, key: str):
        if key.startswith("__"):
            raise AttributeError(key)
        sub = f"{self.__name__}.{key}"
        if hasattr(self, "__path__") and _importable(sub):
            # A1111 had imported its submodules, so they were attributes of the package
            # (`modules.textual_inversion.textual_inversion.EmbeddingDatabase`, read by sd-webui-lora-block-weight)
            import importlib

            return importlib.import_module(sub)
        raise AttributeError(f"Easel has no {self.__name__}.{key}: {self.__reason__} (docs/a1111-compat.md)")


def _importable(name: str) -> bool:
    """Whether `name` is one of A1111's modules the compat layer gives (a view, or absent with a reason)."""
    from modules.extensions.compat import ALIASES

    return name in ALIASES or name in REASONS


def is_package(name: str) -> bool:
    return any(other.startswith(name + ".") for other in REASONS)
