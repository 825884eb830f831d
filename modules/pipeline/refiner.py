"""The refiner switch (A1111's `apply_refiner`): at a set point of the sampling, the sampler goes on with another
checkpoint's UNet and that checkpoint's own conditioning (the prompts encoded again by its text encoders).

Nothing here knows a model family: the refiner is any checkpoint the model manager can load, reached through the
same `LoadedModel` methods as the main model. The latents, the sigmas, the noise and the sampler's state carry
over unchanged; only the denoiser and the conditioning inside the guidance object change. docs/pipeline.md
("Refiner") has the rules.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from modules.errors import InvalidInput
from modules.pipeline.beside_model import BesideModel, short_title
from modules.pipeline.extra_networks import NetworkRun
from modules.pipeline.refiner_plan import RefinerPlan
from modules.pipeline.sample import model_denoiser
from modules.sampling.alpha_schedule import AlphaSchedule
from modules.sampling.cfg_hooks import CFGHooks, DenoiserParams
from modules.sampling.denoiser import discrete_sigmas


def completed_ratio(step: int, total_calls: int, sigma: torch.Tensor, model_sigmas: torch.Tensor,
                    by_steps: bool) -> float:
    """How much of the sampling is done when the model is called at `sigma` [N] (A1111's `apply_refiner`).

    By the noise level (the default): the training timestep t nearest to the largest sigma gives
    (T - 1 - t) / T, so 0.8 means "below timestep 200" whatever the schedule. By steps (the old behaviour):
    model calls made so far / the calls the sampler will make.

    >>> sigmas = torch.linspace(0.1, 10.0, 1000)  # ascending, as a model's training sigmas
    >>> completed_ratio(0, 10, torch.tensor([10.0]), sigmas, False), completed_ratio(0, 10, torch.tensor([0.1]),
    ...                                                                                sigmas, False)
    (0.0, 0.999)
    >>> completed_ratio(5, 10, torch.tensor([3.0]), sigmas, True)
    0.5
    """
    if by_steps:
        return step / max(total_calls, 1)
    t = int(torch.argmin((model_sigmas.to(sigma.device) - sigma.max()).abs()))
    count = model_sigmas.shape[0]
    return (count - 1 - t) / count


def training_sigmas(model, alphas: AlphaSchedule) -> torch.Tensor:
    """The model's discrete training sigmas [T], ascending: sqrt((1 - ᾱ) / ᾱ), of ᾱ as the settings change it."""
    return discrete_sigmas(alphas.apply(model.alphas_cumprod))[0]


@dataclass
class RefinerSession:
    """One job's refiner: loaded on the first switch (never, when no pass reaches its switch point), tiled like
    the main model, and handed back to the model manager when the job ends (`with RefinerSession(...)`)."""

    services: Any
    plan: RefinerPlan
    opts: Any
    main: Any  # the job's main LoadedModel
    tiling: bool = False
    networks: NetworkRun | None = None  # the job's LoRAs, patched into the refiner when it takes over
    _beside: BesideModel | None = None

    def model(self):
        if self._beside is None:
            self._beside = BesideModel(self.services, self.plan.checkpoint, self.opts, self.tiling)
        return self._beside.model(self._check)

    def _check(self, model) -> None:
        if model.unet_in_channels != self.main.unet_in_channels:
            raise InvalidInput("refiner_checkpoint", f"{model.checkpoint.name} takes {model.unet_in_channels} "
                               f"UNet input channels, the main model {self.main.unet_in_channels}",
                               "a refiner of the main model's kind (inpainting or not)")

    def infotext(self) -> dict[str, Any]:
        """A1111's keys, written once a pass switched: `Refiner: <name> [<shorthash>]`, `Refiner switch at`."""
        notes = {"Hires refiner": self.plan.hires_note} if self.plan.hires_note else {}
        return {**notes, "Refiner": short_title(self.model().checkpoint), "Refiner switch at": self.plan.switch_at}

    def switch_hooks(self, choice, steps: int, conds_for: Callable[[Any], Any], notes: dict | None,
                     exact: bool, second_pass: bool = False) -> CFGHooks:
        """The hook that switches one sampling pass of `steps` sampler steps, or no hooks when this pass keeps
        the main model (`hires_fix_refiner_pass`). `conds_for(model)` encodes the pass's prompts with a model,
        exactly as the pass encoded them for the main one."""
        if not (self.plan.second_pass if second_pass else self.plan.first_pass):
            return CFGHooks()
        sigmas = training_sigmas(self.main, choice.alphas)  # [T]
        switch = RefinerSwitch(self, choice, choice.spec.total_steps(steps), sigmas, conds_for, notes, exact)
        return CFGHooks(on_denoiser=(switch,))

    def __enter__(self) -> RefinerSession:
        return self

    def __exit__(self, *exc) -> None:
        if self._beside is not None:
            self._beside.close()
            self._beside = None
        else:
            self.services.models.release_refiner()


@dataclass
class RefinerSwitch:
    """The first guidance hook of a pass: checks each model call and switches once (A1111 does it at the start of
    the CFG denoiser's forward). Later hooks of the run see the refiner's conditioning."""

    session: RefinerSession
    choice: Any
    total_calls: int
    main_sigmas: torch.Tensor  # [T]
    conds_for: Callable[[Any], Any]
    notes: dict | None
    exact: bool
    switched: bool = False

    def __call__(self, params: DenoiserParams) -> None:
        plan = self.session.plan
        if self.switched:
            return
        cfg = params.denoiser
        if plan.by_steps and self.notes is not None:
            self.notes["Refiner switch by sampling steps"] = True
        done = completed_ratio(cfg.step, self.total_calls, params.sigma, self.main_sigmas, plan.by_steps)
        if plan.switch_at is not None and done < plan.switch_at:
            return
        model = self.session.model()
        if self.session.networks is not None:  # before the conds: a LoRA's text-encoder layers count there too
            self.session.networks.activate_refiner(model)
        conds = self.conds_for(model)
        cfg.denoiser = model_denoiser(model, self.choice, self.exact,
                                      separate_rows=not self.session.opts.batch_cond_uncond)
        cfg.cond, cfg.uncond = conds.cond, conds.uncond
        params.text_cond = conds.cond(cfg.step).tensor  # the same prompt parts, the refiner's tensors
        if params.text_uncond is not None:
            params.text_uncond = conds.uncond(cfg.step)
        self.switched = True
        if self.notes is not None:
            self.notes.update(self.session.infotext())
