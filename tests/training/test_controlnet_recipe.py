"""The built-in ControlNet's third phase: rows with an empty caption learn the frozen UNet's own prediction, so the
ControlNet leaves the unconditional side of classifier-free guidance alone (modules/training/train_controlnet.py)."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from modules.training.train_controlnet import PHASES, ControlNetTrainer


class ScaledUnet:
    """A stand-in for the frozen UNet: its prediction is the latent times the timestep."""

    def __call__(self, x, t, encoder_hidden_states):
        return SimpleNamespace(sample=x * t.view(-1, 1, 1, 1).float())


def test_only_rows_with_an_empty_caption_get_the_unets_own_prediction():
    x_t, t = torch.randn(3, 4, 2, 2), torch.tensor([2, 3, 4])
    v = torch.zeros(3, 4, 2, 2)
    trainer = SimpleNamespace(unet=ScaledUnet())
    out = ControlNetTrainer.unsteered_where_empty(trainer, x_t, t, torch.zeros(3, 77, 8), v, ["a red shape", "", ""])
    assert torch.equal(out[0], v[0])  # captioned rows keep the data's v
    assert torch.equal(out[1], x_t[1] * 3) and torch.equal(out[2], x_t[2] * 4)
    assert torch.equal(v, torch.zeros(3, 4, 2, 2))  # the caller's target is not changed in place


def test_without_an_empty_caption_the_target_is_returned_as_is():
    v = torch.ones(2, 4, 2, 2)
    trainer = SimpleNamespace(unet=None)  # never called
    assert ControlNetTrainer.unsteered_where_empty(trainer, v, torch.ones(2), v, v, ["red", "blue"]) is v


def test_the_last_phase_is_the_quiet_one_and_starts_from_the_second():
    names = [p.name for p in PHASES]
    assert names == ["outline", "corners", "quiet"]
    assert PHASES[-1].recipe.quiet_when_empty and PHASES[-1].recipe.init_from == PHASES[1].run_dir / "controlnet.pt"
