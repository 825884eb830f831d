"""A1111's `modules.sd_hijack`: `model_hijack`, which A1111 uses to patch CLIP and the UNet at model load. Easel
patches nothing (its models encode prompts themselves, modules/conditioning), so `hijack`/`undo_hijack` leave the
model as it is; the parts extensions read are views: the embeddings, prompt token counts, infotext comments."""
from __future__ import annotations

from modules.extensions.compat import binding
from modules.extensions.compat.textual_inversion import EmbeddingDatabase


class StableDiffusionModelHijack:
    fixes = None
    circular_enabled = False
    clip = None
    optimization_method = "sdp"  # Easel's attention: torch scaled-dot-product (xformers with --xformers on CUDA)

    def __init__(self):
        self.embedding_db = EmbeddingDatabase()
        self.comments: list[str] = []
        self.extra_generation_params: dict = {}

    @property
    def layers(self) -> list | None:
        """Every torch module of the loaded model (UNet, VAE, text encoder), parents before children, as A1111
        lists them at model load; extensions patch the layers they find here (e.g. Conv2d padding for tiling).
        None while no model is loaded (A1111: before the first hijack)."""
        model = binding.app().services.models.current
        if model is None:
            return None
        nets = [net for net in (model.unet, model.vae, getattr(model, "text_encoder", None)) if net is not None]
        return [module for net in nets for module in net.modules()]

    def apply_optimizations(self, option=None) -> None:
        """Easel picks its attention at model load (--xformers, --opt-sdp-attention)."""

    def convert_sdxl_to_ssd(self, m) -> None:
        raise NotImplementedError("Easel does not convert SDXL models to SSD-1B")

    def hijack(self, m) -> None:
        """Nothing to patch: Easel's model classes handle embeddings, emphasis and long prompts themselves."""

    def undo_hijack(self, m) -> None:
        """Nothing was patched (see hijack)."""

    def apply_circular(self, enable: bool) -> None:
        """Tiling is the request's `tiling` field in Easel; an extension sets `p.tiling`."""
        self.circular_enabled = enable

    def clear_comments(self) -> None:
        self.comments, self.extra_generation_params = [], {}

    def get_prompt_lengths(self, text: str) -> tuple[int, int]:
        """(tokens used, token limit) of a prompt, as the token counter above the prompt box shows them."""
        from modules.conditioning.token_counter import count_tokens

        app = binding.app()
        model = app.services.models.current
        if model is None:
            raise RuntimeError("no model is loaded yet (the tokenizer comes with it)")
        tokenizer = model.text_slots()["clip_l"].tokenizer
        return count_tokens(tokenizer, text, 1, emphasis=app.options.get("emphasis"),
                            comma_backtrack=app.options.get("comma_padding_backtrack"))

    def redo_hijack(self, m) -> None:
        """Nothing to redo (see hijack)."""


model_hijack = StableDiffusionModelHijack()


def list_optimizers() -> None:
    """A1111 collects attention optimizers here; Easel's are chosen by flags."""


def apply_optimizations(option=None) -> str:
    return model_hijack.optimization_method


def undo_optimizations() -> None:
    """Easel changes no attention code at run time."""
