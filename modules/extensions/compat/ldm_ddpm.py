"""`ldm.models.diffusion.ddpm` as A1111 extensions import it: the class names of the Stable Diffusion repository's
model, for type hints and `isinstance(shared.sd_model, LatentDiffusion)` (true for a loaded SD 1.x or 2.x model, as
in A1111, whose SDXL model is another class). The model code itself is not Easel's: its UNet and VAE are diffusers
classes (modules/models), so the repository's training and sampling methods are absent and say so."""
from __future__ import annotations


class _ViewOfFamily(type):
    """`isinstance` by the loaded model's family: Easel's `shared.sd_model` is a view, not an ldm object."""

    def __instancecheck__(cls, obj) -> bool:
        from modules.extensions.compat.sd_model_view import ModelView

        if isinstance(obj, ModelView):
            return not obj.is_sdxl
        return type.__instancecheck__(cls, obj)


class DDPM(metaclass=_ViewOfFamily):
    """ldm's diffusion model base class (a name only: Easel's models are modules/models)."""


class LatentDiffusion(DDPM):
    """ldm's latent diffusion model, the class of A1111's SD 1.x and 2.x `shared.sd_model`."""

    def apply_model(self, x_noisy, t, cond, return_ids=False):
        """The UNet's output (eps or v) for x_noisy [N, C, H, W] at timesteps t [N] under A1111's condition dict,
        made by the current sampling step's model call (compat/model_call.py); `shared.sd_model.apply_model`."""
        from modules.extensions.compat.model_call import apply_in_step

        return apply_in_step(x_noisy, t, cond)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no ldm.models.diffusion.ddpm.{name}: the Stable Diffusion repository's model "
                         "code, which A1111 ran; Easel's models are diffusers classes (modules/models), only the "
                         "class names DDPM and LatentDiffusion are there (docs/a1111-compat.md)")
