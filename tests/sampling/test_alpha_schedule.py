"""A1111's alphas_cumprod settings: Zero Terminal SNR against diffusers' rescale, and both settings' denoiser
sigmas against k-diffusion's buffers built from the same schedule (what A1111 samples with)."""
import pytest
import torch
from diffusers import DDIMScheduler

from modules.errors import InvalidInput
from modules.options import Snapshot
from modules.sampling.alpha_schedule import LAST_ALPHA_BAR, AlphaSchedule, zero_terminal_snr
from modules.sampling.denoiser import DiscreteDenoiser

from .helpers import ALPHAS, load_kdiffusion

SD = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def test_zero_terminal_snr_matches_diffusers_rescale():
    theirs = DDIMScheduler(**SD, rescale_betas_zero_snr=True).alphas_cumprod  # [T], last 0
    mine = zero_terminal_snr(ALPHAS)
    assert mine.dtype == torch.float32 and float(mine[0]) == pytest.approx(float(ALPHAS[0]), rel=1e-6)
    assert torch.allclose(mine[:-1], theirs[:-1], rtol=1e-4, atol=1e-6)  # measured: 4.2e-7 abs, 3.6e-5 rel
    assert float(mine[-1]) == pytest.approx(LAST_ALPHA_BAR) and float(theirs[-1]) == 0.0


class _Model(torch.nn.Module):
    def forward(self, *args, **kwargs):
        raise AssertionError("not called")


@pytest.mark.parametrize("schedule", [AlphaSchedule(downcast=True), AlphaSchedule(zero_terminal_snr=True)])
def test_denoiser_sigmas_are_k_diffusions_over_the_changed_schedule(schedule):
    k = load_kdiffusion()
    abar = schedule.apply(ALPHAS)
    assert abar.dtype == (torch.float16 if schedule.downcast else torch.float32)
    reference = k.external.DiscreteEpsDDPMDenoiser(_Model(), abar, quantize=False)
    ours = DiscreteDenoiser(None, abar)
    assert torch.equal(ours.sigmas, reference.sigmas.float())
    assert torch.equal(ours.log_sigmas, reference.log_sigmas.float())
    assert torch.equal(ours.get_sigmas(10), reference.get_sigmas(10).float())
    plain = DiscreteDenoiser(None, ALPHAS).sigmas
    assert (ours.sigmas - plain).abs().max() > 1e-3  # the setting changes the levels sampling visits


def test_zero_terminal_snr_sigma_max_and_downcast_rounding():
    assert float(DiscreteDenoiser(None, zero_terminal_snr(ALPHAS)).sigma_max) == pytest.approx(4518.76, rel=1e-4)
    half = DiscreteDenoiser(None, ALPHAS.half())
    assert float(half.sigma_max) == 14.609375  # float16 maths, as the old half-precision models had it


def opts(**values) -> Snapshot:
    return Snapshot({"use_downcasted_alpha_bar": False, "sd_noise_schedule": "Default", **values})


def test_settings_and_infotext():
    assert AlphaSchedule.read(opts()) == AlphaSchedule() and AlphaSchedule().apply(ALPHAS) is ALPHAS
    assert AlphaSchedule.read(opts(sd_noise_schedule="Zero Terminal SNR")).infotext() == {
        "Noise Schedule": "Zero Terminal SNR"}
    assert AlphaSchedule.read(opts(use_downcasted_alpha_bar=True)).infotext() == {"Downcast alphas_cumprod": True}
    with pytest.raises(InvalidInput, match="use_downcasted_alpha_bar.*Zero Terminal SNR"):
        AlphaSchedule.read(opts(use_downcasted_alpha_bar=True, sd_noise_schedule="Zero Terminal SNR"))
