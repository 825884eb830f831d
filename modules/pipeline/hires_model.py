"""The hires fix's own checkpoint (A1111's "Hires checkpoint", request field `hr_checkpoint_name`): the second
pass encodes, samples and decodes with another model than the first.

A1111 swaps the loaded model for the second pass and back for the next batch, reading both files again each time;
Easel loads the hires model once per job beside the main one (`beside_model.py`, as for a refiner), with the job's
VAE settings, tiling and FP8 storage, and hands it back when the job ends.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.errors import InvalidInput
from modules.pipeline.beside_model import BesideModel, short_title


@dataclass
class HiresModel:
    """One job's hires checkpoint, loaded at its first second pass (`with HiresModel(...)`)."""

    services: Any
    checkpoint: str  # the title `hires.hires_checkpoint` found
    opts: Any
    main: Any  # the job's main LoadedModel
    tiling: bool = False
    seed: int = 0  # the job's first seed (HyperTile's VAE tiles)
    _beside: BesideModel | None = None
    _model: Any = None  # the loaded model with the job's VAE methods

    def model(self):
        if self._model is None:
            from modules.pipeline.sample import job_models_dirs
            from modules.pipeline.vae_methods import with_vae_methods

            self._beside = BesideModel(self.services, self.checkpoint, self.opts, self.tiling)
            loaded = self._beside.model(self._check)
            self._model = with_vae_methods(loaded, self.opts, job_models_dirs(self.services), self.seed)
        return self._model

    def _check(self, loaded) -> None:
        if (loaded.latent_channels, loaded.vae_scale_factor) != (self.main.latent_channels,
                                                                 self.main.vae_scale_factor):
            raise InvalidInput("hr_checkpoint_name", f"{loaded.checkpoint.name} has another latent space "
                               f"({loaded.latent_channels} channels, 1/{loaded.vae_scale_factor} scale) than "
                               f"{self.main.checkpoint.name}", "a checkpoint of the main model's latent space")

    def infotext(self) -> dict[str, Any]:
        """A1111's entry: `Hires checkpoint: <name> [<shorthash>]`."""
        return {"Hires checkpoint": short_title(self.model().checkpoint)}

    def __enter__(self) -> HiresModel:
        return self

    def __exit__(self, *exc) -> None:
        if self._beside is not None:
            self._beside.close()
        self._beside = self._model = None
