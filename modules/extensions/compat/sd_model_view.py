"""`shared.sd_model` as A1111 extensions read it: the loaded model, or the selected checkpoint when none is loaded
(so `shared.sd_model.is_sdxl` in a script's `ui()` works before the first generation)."""
from __future__ import annotations

import types
import weakref
from types import SimpleNamespace
from typing import Any

from modules.extensions.compat import binding


def checkpoint_info_view(info) -> SimpleNamespace:
    """A1111's CheckpointInfo fields for a core CheckpointInfo."""
    return SimpleNamespace(filename=str(info.path), title=info.title if hasattr(info, "title") else info.name,
                           name=info.name, name_for_extra=info.model_name, model_name=info.model_name,
                           hash=(info.sha256 or "")[:8] or None, sha256=info.sha256, shorthash=info.shorthash,
                           short_title=info.model_name, ids=[info.name, info.model_name],
                           metadata={}, is_safetensors=str(info.path).endswith(".safetensors"))


class ModelView:
    def __init__(self, loaded, info):
        self._loaded, self._info = loaded, info

    def _flag(self, name: str) -> bool:
        """A1111's family booleans, from the loaded model's engine; SD 1.x's before any model is loaded."""
        if self._loaded is None:
            return name == "is_sd1"
        return bool(self._loaded.engine.a1111_flags.get(name, False))

    is_sd1 = property(lambda self: self._flag("is_sd1"))
    is_sd2 = property(lambda self: self._flag("is_sd2"))
    is_sdxl = property(lambda self: self._flag("is_sdxl"))
    is_sd3 = property(lambda self: self._flag("is_sd3"))
    is_ssd = property(lambda self: self._flag("is_ssd"))

    @property
    def latent_channels(self) -> int:
        return 4 if self._loaded is None else self._loaded.latent_channels

    @property
    def sd_checkpoint_info(self):
        return checkpoint_info_view(self._info)

    @property
    def sd_model_checkpoint(self) -> str:
        return str(self._info.path)

    @property
    def sd_model_hash(self) -> str | None:
        return self._info.shorthash

    @property
    def parameterization(self) -> str:
        """What the UNet predicts, in ldm's words: "eps" or "v"."""
        if self._loaded is None:
            return "eps"
        return "v" if self._loaded.prediction_type.startswith("v") else "eps"

    cond_stage_key = "txt"  # ldm's config key for the text prompt (A1111's instruct-pix2pix model said "edit")

    @property
    def model(self) -> DiffusionWrapperView:
        """ldm's `DiffusionWrapper` around the UNet: its `conditioning_key`."""
        return DiffusionWrapperView(self._loaded)

    @property
    def first_stage_model(self):
        """ldm's AutoencoderKL as a view of the loaded VAE: its `encoder` and `decoder` in ldm's layout, whose
        `forward` extensions may replace (compat/ldm_vae_model.py)."""
        from modules.extensions.compat.ldm_vae_model import AutoencoderView

        if self._loaded is None:
            raise AttributeError("no model is loaded yet: its first_stage_model comes with it")
        return AutoencoderView(self._loaded.vae)

    @property
    def cond_stage_model(self):
        """A1111's prompt encoder object for SD 1.x (its `wrapped` is ldm's FrozenCLIPEmbedder over the loaded CLIP
        tokenizer and text model); other families encode prompts differently in Easel (modules/conditioning)."""
        if self._loaded is None or not self.is_sd1:
            raise AttributeError("Easel has cond_stage_model for a loaded SD 1.x model only: it encodes prompts "
                                 "itself (modules/conditioning; docs/a1111-compat.md)")
        return CondStageView(self._loaded.tokenizer, self._loaded.text_encoder)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key in ("_loaded", "_info"):
            raise AttributeError(key)
        stored = _set_on(self._loaded)
        if key in stored:
            return stored[key]
        if key == "apply_model":
            from modules.extensions.compat.ldm_ddpm import LatentDiffusion

            return types.MethodType(LatentDiffusion.apply_model, self)
        if self._loaded is not None:
            return getattr(self._loaded, key)
        raise AttributeError(key)

    def __setattr__(self, key: str, value: Any) -> None:
        """What an extension sets on `shared.sd_model` (its own `apply_model`, a saved original) stays with the loaded
        model, as on A1111's one model object: every later `shared.sd_model` and `p.sd_model` reads it."""
        if key.startswith("_") or hasattr(type(self), key) or self._loaded is None:
            object.__setattr__(self, key, value)
        else:
            _set_on(self._loaded)[key] = value

    def __delattr__(self, key: str) -> None:
        stored = _set_on(self._loaded)
        if key in stored:
            del stored[key]
        else:
            object.__delattr__(self, key)


_SET: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loaded model → attributes extensions set on it


def _set_on(loaded) -> dict:
    """The attributes extensions set on the view of `loaded` (none while no model is loaded)."""
    if loaded is None:
        return {}
    return _SET.setdefault(loaded, {})


def apply_model_replaced(loaded) -> bool:
    """Whether an extension put its own `apply_model` on the loaded model (Tiled Diffusion's Mixture of Diffusers),
    not the model's own one it saved and put back."""
    from modules.extensions.compat.ldm_ddpm import LatentDiffusion

    value = _set_on(loaded).get("apply_model")
    return value is not None and getattr(value, "__func__", None) is not LatentDiffusion.apply_model


class DiffusionWrapperView:
    """`sd_model.model` (ldm's DiffusionWrapper): how the model takes its conditioning, "crossattn" or, for
    inpainting models (the masked image concatenated to the latent), "hybrid"."""

    def __init__(self, loaded):
        self._loaded = loaded

    @property
    def conditioning_key(self) -> str:
        if self._loaded is not None and self._loaded.unet_in_channels > self._loaded.latent_channels:
            return "hybrid"
        return "crossattn"

    @property
    def diffusion_model(self):
        """ldm's UNetModel as a view of Easel's UNet: its layers by ldm's names, attention layers as ldm's
        CrossAttention whose `forward` extensions may replace (compat/unet_attention.py)."""
        from modules.extensions.compat.unet_attention import diffusion_model

        if self._loaded is None:
            raise AttributeError("no model is loaded yet: its diffusion_model comes with it")
        return diffusion_model(self._loaded.unet)


def current_model_view() -> ModelView | None:
    app = binding.app()
    models = app.services.models
    loaded = models.current
    if loaded is not None:
        return ModelView(loaded, loaded.checkpoint)
    try:
        return ModelView(None, models.find_checkpoint(app.options.get("sd_model_checkpoint") or "")
                         if app.options.get("sd_model_checkpoint") else models.list_checkpoints()[0])
    except Exception:  # no checkpoint at all (or none found): A1111 would have no model either
        return None


def model_before_job(ctx):
    """The loaded model, as scripts' `before_process` sees it on A1111, where one is always loaded (the job loads its
    own checkpoint after that hook). Easel loads at the first generation: with none loaded yet, the checkpoint this
    job will use is loaded now rather than a moment later. None when it cannot load; the pipeline then says why."""
    from modules.errors import EaselError
    from modules.models.weight_storage import fp8_setting

    models = ctx.services.models
    if models.current is None:
        try:
            models.get(ctx.opts.sd_model_checkpoint or None, ctx.opts.sd_vae, fp8_setting(ctx.opts))
        except EaselError:
            return None
    current = models.current
    return ModelView(current, current.checkpoint) if current is not None else None


class CondStageView:
    """A1111's FrozenCLIPEmbedderWithCustomWords as extensions read it: the wrapped CLIP embedder, token ids of
    texts (no start/end tokens), the special ids and the chunk length."""

    chunk_length = 75

    def __init__(self, tokenizer, text_encoder):
        from modules.extensions.compat.ldm_encoders import FrozenCLIPEmbedder

        self.tokenizer = tokenizer
        self.wrapped = FrozenCLIPEmbedder.over(tokenizer, text_encoder)
        self.id_start, self.id_end = tokenizer.bos_token_id, tokenizer.eos_token_id
        self.id_pad = self.id_end
        self.comma_token = tokenizer.get_vocab().get(",</w>")

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), truncation=False, add_special_tokens=False)["input_ids"]

    def tokenize_line(self, line: str) -> tuple[list, int]:
        """A prompt's 77-token chunks (PromptChunk: tokens, multipliers, fixes) and its token count."""
        from modules.extensions.compat.prompt_encoding import tokenize_line

        return tokenize_line(self.tokenizer, line)
