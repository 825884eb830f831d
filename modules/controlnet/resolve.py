"""A request's ControlNet units → what a sampling pass runs: loaded networks and hint tensors (once per job).

For each enabled unit: the model file by its listed name (`ControlNetLibrary`), loaded for the job's checkpoint and
checked to fit its family (model-free modules such as reference_only need none); the control image (or, in img2img,
the init image) through the unit's preprocessor and resize mode at the generation size
(`modules/controlnet/detect.py`), and again at the hires size when hires fix runs, as the extension preprocesses for
both passes; the preprocessor's sliders as they resolve (colour fix, style fidelity). Any problem is an error on the
unit's field, never a run without that unit.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from modules.controlnet.apply import ControlRun, ResolvedControl
from modules.controlnet.units import ControlUnit


def unit_field(index: int) -> str:
    return f"controlnet_units[{index}]"


def hint_tensor(detected: np.ndarray) -> torch.Tensor:
    """A fitted detected map uint8 [H, W, 3 or 4] → the ControlNet's hint [1, 3, H, W] float32 (inpaint: −1 where
    masked)."""
    from modules.controlnet.resize import hint_array

    return torch.from_numpy(np.ascontiguousarray(hint_array(detected))).permute(2, 0, 1)[None]  # [1, 3, H, W]


def inpaint_feed(detected: np.ndarray) -> torch.Tensor:
    """An inpaint map uint8 [H, W, 4] → [1, 4, H, W]: its RGB in [0, 1] and the mask (alpha above half) as 0/1."""
    array = torch.from_numpy(np.ascontiguousarray(detected)).permute(2, 0, 1)[None].float()  # [1, 4, H, W]
    return torch.cat([array[:, :3] / 255.0, (array[:, 3:4] > 127).float()], dim=1)


def resolve_units(services, model, units: Sequence[ControlUnit], width: int, height: int, *,
                  hires_size: tuple[int, int] | None = None, init_image=None, init_mask=None,
                  seed: int = 0) -> tuple[ResolvedControl, ...]:
    """The enabled units of a job, ready to run on `model` (a LoadedModel) at width×height (and the hires
    (width, height) when a second pass runs)."""
    from modules.controlnet.detect import detect_for_unit

    enabled = [(i, u) for i, u in enumerate(units) if u.enabled]
    if not enabled:
        return ()
    library = getattr(services, "controlnets", None)
    if library is None:
        raise RuntimeError("ControlNet units were given but this App has no ControlNet library")
    registry = preprocessor_registry(services)
    out = []
    for i, unit in enabled:
        where = unit_field(i)
        if unit.module == "inpaint_only" and init_mask is not None:  # A1111 inpaints already: the extension's fallback
            unit = unit.replace(module="inpaint")
        pre = registry.get(unit.module, f"{where}.module")
        control = None  # model-free modules (reference_*) steer the UNet itself
        if not pre.model_free:
            info = library.find(unit.model, f"{where}.model")
            control = library.load(info, model.unet, model.dtype, model.device, f"{where}.model",
                                   model.checkpoint.name)
        sliders = pre.params(unit.processor_res, unit.threshold_a, unit.threshold_b)

        def detect_at(w: int, h: int, unit=unit, where=where) -> np.ndarray:
            return detect_for_unit(registry, unit, w, h, seed=seed, init_image=init_image, init_mask=init_mask,
                                   where=where)  # [h, w, 3 or 4] uint8

        first = detect_at(width, height)
        final = first if hires_size is None else detect_at(*hires_size)
        feed = inpaint_feed(final) if "inpaint_only" in unit.module and final.shape[2] == 4 else None
        out.append(ResolvedControl(
            f"ControlNet {i}", control, hint_tensor(first), unit.weight, unit.guidance_start, unit.guidance_end,
            unit.control_mode, None if hires_size is None else hint_tensor(final), unit.module, unit.hr_option,
            model.unet, unit.low_vram, feed, float(sliders.a), float(sliders.b), int(seed)))
    return tuple(out)


def preprocessor_registry(services):
    """The App's preprocessor table, or the built-in one."""
    registry = getattr(services, "controlnet_preprocessors", None)
    if registry is not None:
        return registry
    from modules.controlnet.preprocessors import default_registry

    return default_registry()


def control_run(controls: Sequence[ResolvedControl], stage: str) -> ControlRun | None:
    """One pass's ControlRun (None without units: the pass runs exactly as without ControlNet)."""
    return ControlRun(controls, stage) if controls else None
