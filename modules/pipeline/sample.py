"""One sampling pass: CFG denoiser around the model, the sampler function, progress and interrupt."""
from __future__ import annotations

import logging

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from modules.conditioning.types import as_conditioning
from modules.errors import Interrupted
from modules.models.speedups.options import NO_PATCHES, UnetPatches
from modules.pipeline.job import Job
from modules.sampling.alpha_schedule import AlphaSchedule
from modules.sampling.cfg import CFGDenoiser
from modules.sampling.denoiser import DiscreteDenoiser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerChoice:
    """A resolved sampler + scheduler, the keyword arguments for its function and their infotext entries."""

    spec: Any  # modules.sampling.specs.SamplerSpec
    scheduler: Any  # modules.sampling.specs.SchedulerSpec
    kwargs: dict[str, Any]  # from modules.sampling.params.sampler_params: only what the sampler declares
    infotext: dict[str, Any]
    alphas: AlphaSchedule = AlphaSchedule()  # the training schedule's settings (downcast, zero terminal SNR)
    quantize: bool = False  # A1111's enable_quantization: the UNet gets whole training timesteps (k-diffusion only)


def _rows(value, index: torch.Tensor):
    return None if value is None else value[index] if value.ndim else value


def _with(run) -> dict:
    """`run=` only when a speed option is on, so models without speed options are called as before."""
    return {} if run is None else {"run": run}


def _unet_call(model, control, x, t, part, concat, rows, run) -> torch.Tensor:
    """The UNet for the rows `rows` of this model call (None: all); with ControlNet units (`control`: a
    modules.controlnet.apply.ControlRun handed in through the CFG denoiser's model_kwargs) the run adds their
    residuals, reference attention and colour fix around it."""
    def unet(x_in, residuals=None, concat=concat):
        extra = {} if residuals is None else {"residuals": residuals}
        return model.unet_forward(x_in, t, part.cross_attn, concat=concat, **part.extras, **_with(run), **extra)

    if control is None:
        return unet(x)
    return control.unet_call(unet, model, x, t, part, rows, concat)


def _groups_by_length(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices grouped by conditioning length, in first-seen order (A1111 runs cond and uncond apart).

    >>> _groups_by_length((154, 154, 77, 77))
    [[0, 1], [2, 3]]
    """
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(n, []).append(i)
    return list(groups.values())


def _exact_groups(image_rows, lengths: Sequence[int]) -> list[list[int]]:
    """Each image's rows in one group (split by token length); each row alone when which rows make an image is not
    known, or does not cover the batch (a hook changed it).

    >>> _exact_groups(((0, 2), (1, 3)), [77, 77, 77, 77]), _exact_groups(((0, 2),), [154, 77, 77])
    ([[0, 2], [1, 3]], [[0], [1], [2]])
    >>> _exact_groups(((0, 1, 2),), [154, 77, 77])
    [[0], [1, 2]]
    """
    if image_rows is None or sorted(r for rows in image_rows for r in rows) != list(range(len(lengths))):
        return [[i] for i in range(len(lengths))]
    return [[rows[j] for j in group] for rows in image_rows for group in _groups_by_length([lengths[r] for r in rows])]


def model_denoiser(model, choice: SamplerChoice, exact_rows: bool, patches: UnetPatches = NO_PATCHES,
                   step: Callable[[], int] = lambda: 0, separate_rows: bool = False):
    """Wrap the UNet as the denoiser D(x, σ) the chosen sampler expects, for the model's prediction type.

    Rows whose conditionings differ in token length (a long prompt against a short negative one, without
    pad_cond_uncond) go through the UNet in separate calls, each cut to its own length. With `exact_rows` each
    image's rows (its prompt parts and its unconditional row, `image_rows` from modules/sampling/cfg.py) go through
    the UNet together and apart from other images': matrix kernels pick different blockings for different batch
    sizes, so only this makes image i of a batch equal a single run bit for bit. (Each row alone would do that too,
    but a batch of 2 runs 1.05–1.07× faster on the CPU than two calls of 1.) `patches` are the pass's speed
    options (docs/performance.md); `step()` says which sampling step the pass is in (feature caching needs it).
    ControlNet residuals are computed per UNet call, for exactly the rows of that call (docs/controlnet.md).
    `separate_rows` (A1111's batch_cond_uncond off) gives every row a UNet call of its own, so the prompt's and the
    negative prompt's pass never share one: less memory at the peak, a little slower.
    """
    run = model.unet_run(patches, step) if patches.active else None

    def model_fn(x_in, t, cond, concat=None, control=None, image_rows=None):
        cond = as_conditioning(cond)  # [N, T, C] with per-row token lengths
        lengths = cond.token_lengths
        if separate_rows:
            groups = [[i] for i in range(x_in.shape[0])]
        else:
            groups = _exact_groups(image_rows, lengths) if exact_rows else _groups_by_length(lengths)
        if len(groups) == 1 and groups[0] == list(range(x_in.shape[0])):
            part = cond.select(None, lengths[0])
            return _unet_call(model, control, x_in, t, part, concat, None, run)
        out = torch.empty_like(x_in)  # [N, 4, h, w]
        for rows in groups:
            index = torch.tensor(rows)
            part = cond.select(rows, lengths[rows[0]])  # [k, n, C]
            x, t_rows, c = x_in[index], _rows(t, index), _rows(concat, index)
            out[index] = _unet_call(model, control, x, t_rows, part, c, index, run)
        return out

    denoiser = choice.spec.denoiser(model_fn, choice.alphas.apply(model.alphas_cumprod), model.prediction_type)
    if choice.quantize and type(denoiser) is DiscreteDenoiser:  # A1111 quantizes k-diffusion's CompVisDenoiser
        denoiser.quantize = True
    return denoiser


def decode_latents(model, latents: torch.Tensor, exact_rows: bool) -> torch.Tensor:
    """Latents [B, 4, h, w] → images [B, 3, H, W]; one image at a time with `exact_rows` (see model_denoiser)."""
    if not exact_rows:
        return model.decode(latents)
    return torch.cat([model.decode(latents[i:i + 1]) for i in range(latents.shape[0])])


def preview_period(opts) -> int:
    """Steps between live previews from the settings (0: no previews)."""
    return max(opts.show_progress_every_n_steps, 0) if opts.live_previews_enable else 0


def job_models_dirs(services) -> list:
    """Where a job looks for TAESD files: the user's models folder, then the install folder's (the built-in
    model's ship there)."""
    from modules.paths import INSTALL_DIR

    return list(dict.fromkeys((services.paths.models_dir, INSTALL_DIR / "models")))


def job_previewer(services, model, opts):
    """The live-preview decoder for a job (`show_progress_type`, docs/previews.md): a TAESD file for the model's
    latent space from the user's models folder, else from the install folder (where the built-in model's ships),
    else the cheap approximation."""
    from modules.imaging.preview import previewer_for

    previewer = None
    for models_dir in job_models_dirs(services):
        previewer = previewer_for(opts.show_progress_type, models_dir, model.family, model.checkpoint.path.name,
                                  log=log.warning)
        if previewer.method == "TAESD":
            break
    return previewer


def run_sampler(choice: SamplerChoice, cfg: CFGDenoiser, x: torch.Tensor, sigmas: torch.Tensor,
                noise_sampler: Callable, job: Job) -> torch.Tensor | None:
    """Run the sampler; on interrupt or skip return the last denoised estimate, as A1111 does
    (None when stopped before the first step finished: there is nothing to show)."""
    last = {"denoised": None}

    def callback(d):
        last["denoised"] = d["denoised"]
        job.offer_preview(d["denoised"], d["i"] + 1)
        job.on_step(d["i"] + 1)

    spec = choice.spec
    kwargs = dict(choice.kwargs)
    if "noise_sampler" in spec.params:
        kwargs["noise_sampler"] = noise_sampler
    try:
        with torch.inference_mode():
            return spec.function(cfg, x, sigmas, extra_args={}, callback=cfg.step_callback(callback), disable=True,
                                 **kwargs)
    except Interrupted:
        return last["denoised"]
