"""ControlNet residuals for one UNet call, by sd-webui-controlnet's rules (docs/controlnet.md, "How a unit steers").

Per unit and model call:
- it runs while `guidance_start ≤ step / steps ≤ guidance_end` (step counted from 0 in the pass, as the CFG hooks
  count it, modules/sampling/cfg.py), with a weight above 0, and in the hires-fix pass its `hr_option` allows;
- its ControlNet sees the UNet's own input (the latents as the UNet gets them, the timestep, the row's text
  context) and the unit's hint image at 8× the latent size;
- residual i of K (the encoder outputs, then the middle block's) is multiplied by `weight`, and with "My prompt is
  more important" or "ControlNet is more important" by `weight · 0.825^(12 − i)` instead ("soft injection"; SD 1.x
  has K = 13, so the middle block keeps the full weight; SDXL's K = 10 takes the first ten; any other K counts
  back from the middle block, `control_scales`). Canny and MLSD units get the soft weights in the hires pass
  whatever their mode, as the extension does;
- "ControlNet is more important" (and shuffle's global average pooling) zeroes the residuals of the unconditional
  rows, so only the prompt side of classifier-free guidance is steered;
- global average pooling replaces each residual by its spatial mean;
- the residuals of all units are summed.
A 4-channel hint (inpaint: RGB and mask) becomes `rgb · (1 − m) − m` with m the mask above 0.5.

Around each UNet call (`ControlRun.unet_call`, called by the model wrapper) an SDXL ControlNet also gets the UNet's
pooled text and time ids (`Engine.control_kwargs`); reference_* units run their write pass first
(modules/controlnet/reference.py) and tile_colorfix units correct the prediction after (modules/controlnet/colorfix.py).

Rows: which image (hint) and which side of guidance (cond or uncond) each row of a model call belongs to is read
in the CFG hook `observe` (DenoiserParams: cond rows first, grouped per image by AND-parts, then one uncond row per
image); the model wrapper (modules/pipeline/sample.py) then asks for the residuals of the rows it runs together.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from modules.controlnet.colorfix import colorfix, schedule_at
from modules.controlnet.reference import (REFERENCE_MODULES, ReferenceHooks, ReferencePass, call_with_reference,
                                          noised, style_fidelity)
from modules.controlnet.shapes import unet_family
from modules.controlnet.units import ControlMode, HiresOption
from modules.sampling.cfg_hooks import CFGHooks, DenoiserParams

SOFT_BASE = 0.825
SOFT_TOP = 12  # the extension's exponent base: 12 − i for residual i (SD 1.x's 13 residuals)
EXTENSION_RESIDUALS = (13, 10)  # residual counts the extension's soft weights are defined for (SD 1.x/2.x, SDXL)
HIRES_SOFT_MODULES = ("canny", "mlsd")  # modules whose units get soft weights in the hires pass


def control_scales(weight: float, count: int, soft: bool) -> list[float]:
    """The factor of each of `count` residuals.

    Soft weights are the extension's for the shapes it knows: SD 1.x/2.x's 13 residuals (the middle block keeps the
    full weight) and SDXL's 10, which take the first 10 of those 13 numbers as the extension does. For any other
    count (the built-in ControlNet has 5) the same decay is counted back from the middle block, so it keeps the full
    weight as in the 13-residual rule; taking the first numbers instead would scale a 5-residual ControlNet's middle
    block by 0.21 and leave it almost no say.

    >>> control_scales(0.5, 3, False)
    [0.5, 0.5, 0.5]
    >>> [round(s, 4) for s in control_scales(1.0, 13, True)][-3:], round(control_scales(1.0, 13, True)[0], 4)
    ([0.6806, 0.825, 1.0], 0.0994)
    >>> round(control_scales(1.0, 10, True)[-1], 4), [round(s, 4) for s in control_scales(1.0, 5, True)]
    (0.5615, [0.4633, 0.5615, 0.6806, 0.825, 1.0])
    """
    if not soft:
        return [weight] * count
    if count in EXTENSION_RESIDUALS:
        return [weight * SOFT_BASE ** float(SOFT_TOP - i) for i in range(count)]
    return [weight * SOFT_BASE ** float(count - 1 - i) for i in range(count)]


def guidance_active(fraction: float, start: float, end: float) -> bool:
    """The extension's test: a unit steers unless the pass's progress is before its start or after its end.

    >>> [guidance_active(i / 8, 0.0, 0.5) for i in range(8)]
    [True, True, True, True, True, False, False, False]
    """
    return not (fraction < start or fraction > end)


def inpaint_hint(hint: torch.Tensor) -> torch.Tensor:
    """[N, 4, H, W] RGB + mask → [N, 3, H, W]: masked pixels become −1 (the ControlNet inpaint protocol)."""
    if hint.shape[1] != 4:
        return hint
    mask = (hint[:, 3:4] > 0.5).to(hint.dtype)  # [N, 1, H, W]
    return hint[:, :3] * (1 - mask) - mask  # [N, 3, H, W]


class ControlNet(Protocol):
    """What a unit's network is to the pass (modules/controlnet/model.py's LoadedControlNet): residuals [B, c_i,
    h_i, w_i] for latents x [B, C, h, w], timesteps t [B], context [B, L, D] and hint [B, 3, 8h, 8w]. It may also
    have `place(device)`, `global_average_pooling` and `net` (its diffusers model), read when present."""

    @property
    def in_channels(self) -> int: ...

    def __call__(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, hint: torch.Tensor,
                 added_cond_kwargs: dict[str, torch.Tensor] | None = None) -> list[torch.Tensor]: ...


@dataclass(frozen=True)
class ResolvedControl:
    """One enabled unit, ready to run: its loaded ControlNet, hint images and schedule."""

    label: str  # "ControlNet 0": names the unit in messages
    control: ControlNet | None  # None: a model-free module (reference_*) that steers the UNet itself
    hint: torch.Tensor  # [n, 3 or 4, H, W] in [0, 1] (−1: inpaint's masked) at the generation size; n = 1 or B
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: ControlMode = ControlMode.BALANCED
    hr_hint: torch.Tensor | None = None  # the hires pass's hint at the hires size (None: `hint` resized)
    module: str = "none"
    hr_option: HiresOption = HiresOption.BOTH
    unet: object = None  # the checkpoint UNet it was checked against; another UNet (a refiner's) is not steered
    low_vram: bool = False  # the extension's Low VRAM: networks wait on the CPU between calls
    inpaint_feed: torch.Tensor | None = None  # inpaint_only: [1, 4, H, W] control RGB + mask at the final size
    threshold_a: float = -1.0  # the preprocessor's sliders as resolved (colour fix, reference fidelity)
    threshold_b: float = -1.0
    seed: int = 0  # seeds the noise of reference_* write passes


INPAINT_BLUR = 7  # the extension's control_net_inpaint_blur_sigma: dilate, then box-blur the mask by 7 pixels


def soft_mask(mask: torch.Tensor, size: int = INPAINT_BLUR) -> torch.Tensor:
    """[N, 1, H, W] 0/1 → dilated by a size×size square, then box-blurred (edges mirrored), as the extension softens
    inpaint_only's mask before pasting.

    >>> m = torch.zeros(1, 1, 9, 9); m[0, 0, 4, 4] = 1
    >>> soft_mask(m, 3)[0, 0, 4].tolist()
    [0.0, 0.0, 0.3333333432674408, 0.6666666865348816, 1.0, 0.6666666865348816, 0.3333333432674408, 0.0, 0.0]
    """
    pad = size // 2
    grown = F.max_pool2d(mask, size, stride=1, padding=pad)  # [N, 1, H, W]
    return F.avg_pool2d(F.pad(grown, (pad, pad, pad, pad), mode="reflect"), size, stride=1)  # [N, 1, H, W]


def inpaint_only_blend(images: torch.Tensor, controls: Sequence[ResolvedControl]) -> torch.Tensor:
    """Decoded images [B, 3, H, W] in [0, 1] → the control image kept outside each inpaint_only unit's (softened)
    mask, as the extension pastes after decoding. A feed of another size is left out, as the extension does."""
    for control in controls:
        feed = control.inpaint_feed
        if feed is None or tuple(feed.shape[-2:]) != tuple(images.shape[-2:]):
            continue
        raw, mask = feed[:, :3].to(images), soft_mask(feed[:, 3:4].to(images))  # [1, 3, H, W], [1, 1, H, W]
        images = (mask * images.clamp(0, 1) + (1 - mask) * raw).clamp(0, 1)
    return images


def _hint_scale(control) -> int:
    """How much larger than the latents a ControlNet's hint is (its hint encoder's stride-2 convolutions)."""
    widths = getattr(getattr(control, "net", None), "config", {}).get("conditioning_embedding_out_channels")
    return 2 ** (len(widths) - 1) if widths else 8


class ControlRun:
    """The units of one sampling pass. `stage`: "single" (no hires fix), "first" or "hires" (its two passes).

    It holds the pass's working state (the step's progress and row layout, resized hints), so make one per pass.
    """

    def __init__(self, units: Sequence[ResolvedControl], stage: str = "single"):
        if stage not in ("single", "first", "hires"):
            raise ValueError(f"stage must be 'single', 'first' or 'hires', not {stage!r}")
        self.units, self.stage = tuple(units), stage
        self.offload = any(u.low_vram for u in self.units)  # the extension offloads all units when any asks
        self.fraction = 0.0
        self._images: torch.Tensor | None = None  # [rows] image index of each row of the last CFG batch
        self._marks: torch.Tensor | None = None  # [rows] 1.0 cond, 0.0 uncond
        self._hints: dict[tuple, torch.Tensor] = {}  # hints and control-image latents by unit and size
        self._noise: dict[str, torch.Generator] = {}  # reference units' noise, seeded once per pass

    def cfg_hooks(self) -> CFGHooks:
        """Run after the other hooks: it reads the rows as they will reach the model."""
        return CFGHooks(on_denoiser=(self.observe,))

    def model_kwargs(self) -> dict:
        """For `CFGDenoiser(model_kwargs=...)`: the model wrapper (modules/pipeline/sample.py) takes `control`."""
        return {"control": self}

    def observe(self, params: DenoiserParams) -> None:
        """Before each model call: the step's progress and, per row, its image and side of guidance."""
        self.fraction = params.sampling_step / max(params.total_sampling_steps, 1)
        rows = params.x.shape[0]
        cond_rows = _rows_of(params.text_cond)
        counts = _part_counts(params.denoiser)
        if counts is None or sum(counts) != cond_rows:
            counts = [1] * cond_rows
        images = [i for i, c in enumerate(counts) for _ in range(c)] + list(range(rows - cond_rows))
        self._images = torch.tensor(images)
        self._marks = torch.tensor([1.0] * cond_rows + [0.0] * (rows - cond_rows))

    def steers(self, unit: ResolvedControl) -> bool:
        if unit.weight == 0 or not guidance_active(self.fraction, unit.guidance_start, unit.guidance_end):
            return False
        return self.steers_stage(unit)

    def soft(self, unit: ResolvedControl) -> bool:
        forced = self.stage == "hires" and any(m in unit.module for m in HIRES_SOFT_MODULES)
        return unit.control_mode != ControlMode.BALANCED or forced

    @torch.no_grad()
    def unet_call(self, unet_call, model, x: torch.Tensor, t: torch.Tensor, cond, rows: torch.Tensor | None = None,
                  concat: torch.Tensor | None = None) -> torch.Tensor:
        """One UNet call of `model` (a LoadedModel) for the rows `rows` of the CFG batch (None: all): latents
        x [k, C, h, w], timesteps t [k], conditioning `cond` (a Conditioning of k rows). `unet_call(x, residuals,
        concat=...)` runs the UNet; the units add their residuals, reference attention and colour fix around it."""
        added = {}
        if any(u.control is not None and self.steers(u) and _fits(u, model.unet) for u in self.units):
            added = model.control_kwargs(x, cond.cross_attn, cond.pooled, cond.added)
        residuals = self.residuals(x, t, cond.cross_attn, rows, concat, model.unet, added)
        passes = self._reference_passes(model, x, t, rows, concat)
        if passes:
            uncond = (self._layout(x.shape[0], rows)[1] == 0).nonzero().flatten()  # [n] unconditional rows
            hooks = ReferenceHooks(model.unet, unet_family(model.unet.config))
            out = call_with_reference(hooks, passes, unet_call, x, residuals, uncond)
        else:
            out = unet_call(x, residuals)
        return self._colorfix(model, x, t, out, rows)

    def _reference_passes(self, model, x, t, rows, concat) -> list[ReferencePass]:
        """The write passes of the reference units steering this call (weight, window and hires option as for a
        ControlNet), with their latents noised to the call's timesteps."""
        units = [u for u in self.units if u.module in REFERENCE_MODULES and self.steers(u) and _fits(u, model.unet)]
        passes = []
        sdxl = unet_family(model.unet.config) == "sdxl"
        for unit in units:
            reference = self._latent(unit, model, x, rows)  # [k, 4, h, w]
            a = schedule_at(model.alphas_cumprod, torch.as_tensor(t).reshape(-1).expand(x.shape[0]), reference)
            if unit.label not in self._noise:
                self._noise[unit.label] = torch.Generator().manual_seed(int(unit.seed))
            latents = noised(reference, a, self._noise[unit.label])  # [k, 4, h, w]
            fidelity = style_fidelity(unit.threshold_a, sdxl, unit.control_mode.value, self.stage == "hires")
            ref_concat = None
            if concat is not None and model.unet.config.in_channels == x.shape[1] + concat.shape[1]:
                ref_concat = torch.cat([torch.zeros_like(reference[:, :1]), reference], dim=1)  # [k, 5, h, w]
            passes.append(ReferencePass(unit.module, unit.weight, fidelity, latents, ref_concat))
        return passes

    def _colorfix(self, model, x, t, out, rows) -> torch.Tensor:
        """tile_colorfix units pull the prediction's colours to the control image's at every call of the pass, as
        the extension does (its guidance window does not stop the colour fix; a weight of 0 does)."""
        for unit in self.units:
            if "colorfix" not in unit.module or unit.weight == 0 or not _fits(unit, model.unet):
                continue
            reference = self._latent(unit, model, x, rows).to(out)  # [k, 4, h, w]
            variation = unit.threshold_a * (2 if self.stage == "hires" and self.steers_stage(unit) else 1)
            sharp = unit.threshold_b if "+sharp" in unit.module else None
            out = colorfix(out, x, torch.as_tensor(t), reference, model.alphas_cumprod, model.prediction_type,
                           weight=unit.weight, variation=int(variation), sharpness=sharp,
                           cond_marks=self._layout(x.shape[0], rows)[1])
        return out

    def steers_stage(self, unit: ResolvedControl) -> bool:
        """Whether the pass's stage lets the unit steer (its hires option), whatever the step."""
        if self.stage == "first" and unit.hr_option == HiresOption.HIGH_RES_ONLY:
            return False
        return not (self.stage == "hires" and unit.hr_option == HiresOption.LOW_RES_ONLY)

    def _latent(self, unit: ResolvedControl, model, x: torch.Tensor, rows) -> torch.Tensor:
        """The unit's control image as the model's latents (VAE posterior mean, encoded once per size), one per
        row of this call's latents x [k, C, h, w]: [k, 4, h, w]."""
        latent_size = x.shape[-2:]
        key = ("latent", id(unit), int(latent_size[0]), int(latent_size[1]))
        if key not in self._hints:
            image = self._hint(unit, latent_size, model.vae_scale_factor, raw=True)[:, :3]  # [n, 3, H, W]
            self._hints[key] = model.encode(image.clamp(0, 1), sample=False)  # [n, 4, h, w]
        latents = self._hints[key]
        images = self._layout(x.shape[0], rows)[0]
        return latents[images % latents.shape[0]]  # [k, 4, h, w]

    @torch.no_grad()
    def residuals(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, rows: torch.Tensor | None = None,
                  concat: torch.Tensor | None = None, unet=None,
                  added: dict | None = None) -> list[torch.Tensor] | None:
        """Summed residuals [k, c_i, h_i, w_i] for the rows `rows` (of the CFG batch; None: all) with latents
        x [k, C, h, w], timesteps t [k] and context [k, L, D] for the UNet `unet`; None when no unit steers this
        call (as for a refiner's UNet: the extension steers only the checkpoint it hooked). `added`: what the
        model's ControlNets take besides (SDXL: `added_cond_kwargs`, `Engine.control_kwargs`)."""
        active = [(u, u.control) for u in self.units if u.control is not None and self.steers(u) and _fits(u, unet)]
        if not active:
            return None
        images, marks = self._layout(x.shape[0], rows)
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(x.shape[0])  # [k]
        total = None
        for unit, control in active:
            hint = self._hint(unit, x.shape[-2:])  # [n, 3, H, W]
            hint = hint[images % hint.shape[0]]  # [k, 3, H, W]
            x_in = x if concat is None or control.in_channels == x.shape[1] else torch.cat([x, concat.to(x)], 1)
            place = getattr(control, "place", None)
            if place is not None:
                place(x.device)
            outs = control(x_in, t, context, hint, **(added or {}))  # K × [k, c_i, h_i, w_i]
            if place is not None and self.offload:
                place("cpu")
            outs = [r * s for r, s in zip(outs, control_scales(unit.weight, len(outs), self.soft(unit)))]
            pooling = getattr(control, "global_average_pooling", False)
            if unit.control_mode == ControlMode.CONTROL or pooling:
                outs = [r * marks.to(r).view(-1, 1, 1, 1) for r in outs]  # uncond rows: no control
            if pooling:
                outs = [r.mean(dim=(2, 3), keepdim=True) for r in outs]  # [k, c_i, 1, 1]
            total = outs if total is None else [a + b for a, b in zip(total, outs)]
        return total

    def _layout(self, count: int, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(image index, cond mark) per row of this call; without an observed layout every row is its own image
        (modulo the hints) and counts as cond."""
        index = torch.arange(count) if rows is None else torch.as_tensor(rows).reshape(-1).cpu()
        if self._images is None or self._marks is None or int(index.max()) >= len(self._images):
            return index, torch.ones(count)
        return self._images[index], self._marks[index]

    def _hint(self, unit: ResolvedControl, latent_size, scale: int | None = None, raw: bool = False) -> torch.Tensor:
        """The unit's hint at `latent_size` × `scale` (default: the ControlNet's hint scale): the pass's own hint when
        it fits, else the closer of hint / hr_hint resized (bilinear, antialiased); inpaint hints converted unless
        `raw`."""
        scale = scale or _hint_scale(unit.control)
        size = (int(latent_size[0]) * scale, int(latent_size[1]) * scale)
        key = (id(unit), *size, raw)
        if key not in self._hints:
            options = [h for h in ((unit.hr_hint, unit.hint) if self.stage == "hires" else (unit.hint, unit.hr_hint))
                       if h is not None]
            hint = min(options, key=lambda h: abs(h.shape[-2] - size[0]) + abs(h.shape[-1] - size[1]))
            hint = hint.float()
            if tuple(hint.shape[-2:]) != size:
                hint = F.interpolate(hint, size=size, mode="bilinear", antialias=True, align_corners=False)
            self._hints[key] = hint if raw else inpaint_hint(hint)  # [n, 3 (raw: 3 or 4), H, W]
        return self._hints[key]


def _fits(unit: ResolvedControl, unet) -> bool:
    """A unit steers only the UNet it was checked against (not a refiner's)."""
    return unit.unet is None or unet is None or unit.unet is unet


def _rows_of(cond) -> int:
    if isinstance(cond, dict):
        return next(iter(cond.values())).shape[0]
    return cond.shape[0] if isinstance(cond, torch.Tensor) else len(cond)


def _part_counts(denoiser) -> list[int] | None:
    """AND-parts per image of the current step's prompt (modules/sampling/cfg.py MultiCond), when known."""
    cond = getattr(denoiser, "cond", None)
    if callable(cond):
        cond = cond(getattr(denoiser, "step", 0))
    parts = getattr(cond, "parts", None)
    return None if parts is None else [len(p) for p in parts]
