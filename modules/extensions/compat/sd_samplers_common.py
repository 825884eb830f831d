"""A1111's `modules.sd_samplers_common`: the sampler data row, latent↔image conversions through the loaded
model's VAE, and the exception a stopped sampler raises."""
from __future__ import annotations

from collections import namedtuple

SamplerDataTuple = namedtuple("SamplerData", ["name", "constructor", "aliases", "options"])


class SamplerData(SamplerDataTuple):
    def total_steps(self, steps: int) -> int:
        return steps * 2 if self.options.get("second_order", False) else steps


approximation_indexes = {"Full": 0, "Approx NN": 1, "Approx cheap": 2, "TAESD": 3}


class InterruptedException(BaseException):
    """Raised inside sampling when the user stops the job."""


def _model():
    from modules.extensions.compat import binding

    model = binding.app().services.models.current
    if model is None:
        raise RuntimeError("no model is loaded yet (run a generation first)")
    return model


def samples_to_images_tensor(sample, approximation=None, model=None):
    """Latents [B, 4, h, w] → images [B, 3, H, W] in -1..1, decoded by the loaded model's VAE (or the cheap
    linear approximation when asked for "Approx cheap")."""
    if approximation == approximation_indexes["Approx cheap"]:
        from modules.extensions.compat.sd_vae_approx import cheap_approximation

        return cheap_approximation(sample)  # [B, 3, h, w]
    return _model().decode(sample) * 2 - 1  # [B, 3, H, W] from 0..1 to -1..1


def single_sample_to_image(sample, approximation=None):
    """One latent [4, h, w] → a PIL image, decoded as the live preview's `approximation` says."""
    from PIL import Image

    image = samples_to_images_tensor(sample[None], approximation)[0]  # [3, H, W] in -1..1
    array = ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()  # [H, W, 3]
    return Image.fromarray(array)


def sample_to_image(samples, index: int = 0, approximation=None):
    return single_sample_to_image(samples[index], approximation)


def samples_to_image_grid(samples, approximation=None):
    from modules.extensions.compat.images import image_grid

    return image_grid([single_sample_to_image(sample, approximation) for sample in samples])


def images_tensor_to_samples(image, approximation=None, model=None):
    """Images [B, 3, H, W] in 0..1 → latents [B, 4, h, w] by the loaded model's VAE."""
    return _model().encode(image, sample=False)  # [B, 4, h, w]


def store_latent(decoded) -> None:
    """A1111 kept the latest latent for the live preview; Easel's job shows its own previews."""


def is_sampler_using_eta_noise_seed_delta(p) -> bool:
    from modules.extensions.compat import shared

    return shared.opts.eta_noise_seed_delta != 0 and "a" in str(getattr(p, "sampler_name", "")).split()[-1:]


def setup_img2img_steps(p, steps=None) -> tuple[int, int]:
    """(steps, t_enc): the steps to run and where img2img starts, from denoising strength (A1111's rule)."""
    from modules.extensions.compat import shared

    if shared.opts.img2img_fix_steps or steps is not None:
        requested = steps or p.steps
        steps = int(requested / min(p.denoising_strength, 0.999)) if p.denoising_strength > 0 else 0
        t_enc = requested - 1
    else:
        steps = p.steps
        t_enc = int(min(p.denoising_strength, 0.999) * steps)
    return steps, t_enc


class Sampler:
    """Base of A1111's sampler classes (extensions check `isinstance(p.sampler, …)`); Easel's samplers are plain
    functions (modules/sampling), so no object of this class runs sampling."""

    def __init__(self, funcname):
        self.funcname = funcname
        self.config = None
        self.sampler_extra_args: dict = {}
        self.model_wrap_cfg = None
        self.model_wrap = None
        self.p = None
        self.eta = None
        self.last_latent = None
        self.stop_at = None

    def interrupt(self) -> None:
        from modules.extensions.compat import shared

        shared.state.interrupt()
