"""A1111's `modules.lowvram`: whether the low/medium-VRAM modes are on (from the flags) and freeing the GPU.
Easel's model manager decides where weights live (modules/models/manager.py); `send_everything_to_cpu` asks it
to unload the model, which frees the same memory."""
from __future__ import annotations

module_in_gpu = None  # A1111's record of the part its low-VRAM mode moved to the GPU; Easel's manager keeps its own


def is_needed(sd_model=None) -> bool:
    from modules.extensions.compat import shared

    return bool(shared.cmd_opts.lowvram or shared.cmd_opts.medvram or shared.cmd_opts.medvram_sdxl)


def is_enabled(sd_model=None) -> bool:
    return is_needed(sd_model)


def send_everything_to_cpu() -> None:
    """Free the GPU: the loaded model is unloaded (between jobs; the next job loads it again)."""
    from modules.extensions.compat import binding

    binding.app().unload_checkpoint()


def setup_for_low_vram(sd_model, use_medvram: bool) -> None:
    """Nothing to set up: Easel does not move model parts between devices (--medvram/--lowvram are a no-op on the
    CPU and refused on GPUs, modules/models/devices.py), so an extension has no hooks to install here."""


def send_me_to_gpu(module, _inputs) -> None:
    """A1111's forward pre-hook that moved one part to the GPU; Easel's parts are where the manager put them."""
