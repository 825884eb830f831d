"""A1111's settings that change the training schedule (alphas_cumprod) sampling sees, before any sampler is built.

`use_downcasted_alpha_bar` rounds it to float16, as models loaded in half precision had it before A1111 1.7 (their
seeds then reproduce); the sigmas are then computed in float16 too (modules/sampling/denoiser.py).
`sd_noise_schedule` "Zero Terminal SNR" rescales sqrt(alphas_cumprod) linearly so the last step carries no signal
(Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", arXiv:2305.08891, Algorithm 1),
for models trained that way, keeping the last value at A1111's small positive one so sigma_max stays finite.
A1111 applies the downcast first, then the rescale, and writes each to the infotext when on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from modules.errors import InvalidInput

NOISE_SCHEDULES = ("Default", "Zero Terminal SNR")
LAST_ALPHA_BAR = 4.8973451890853435e-08  # A1111's final alphas_cumprod under zero terminal SNR (sigma_max ≈ 4519)


def zero_terminal_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """alphas_cumprod [T] rescaled to zero terminal SNR, in its own dtype: sqrt(abar) is shifted so its last value
    is 0 and scaled so its first is unchanged; the last abar is then set to `LAST_ALPHA_BAR`."""
    root = alphas_cumprod.sqrt()  # [T]
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * (first / (first - last))  # [T]
    rescaled = root ** 2
    rescaled[-1] = LAST_ALPHA_BAR
    return rescaled


@dataclass(frozen=True)
class AlphaSchedule:
    """The two settings, read once per run; `apply` gives the alphas_cumprod a pass samples with."""

    downcast: bool = False
    zero_terminal_snr: bool = False

    @classmethod
    def read(cls, opts) -> AlphaSchedule:
        """From an options snapshot (`use_downcasted_alpha_bar`, `sd_noise_schedule`). Both at once are refused:
        float16 rounds the last alphas_cumprod up to 6e-8, whose sigma overflows float16 (A1111 samples NaN)."""
        schedule = cls(bool(opts.use_downcasted_alpha_bar), opts.sd_noise_schedule == "Zero Terminal SNR")
        if schedule.downcast and schedule.zero_terminal_snr:
            raise InvalidInput("use_downcasted_alpha_bar", "float16 cannot hold the zero terminal SNR schedule's "
                               "last noise level (sigma_max overflows)", "off while sd_noise_schedule is "
                               "Zero Terminal SNR")
        return schedule

    def apply(self, alphas_cumprod: torch.Tensor) -> torch.Tensor:
        """alphas_cumprod [T] as sampling sees it: float16 when downcast (the caller keeps that dtype)."""
        out = alphas_cumprod.half() if self.downcast else alphas_cumprod
        return zero_terminal_snr(out) if self.zero_terminal_snr else out

    def infotext(self) -> dict[str, Any]:
        """A1111's entries: `Downcast alphas_cumprod: True`, `Noise Schedule: Zero Terminal SNR`.

        >>> AlphaSchedule(True, True).infotext(), AlphaSchedule().infotext()
        ({'Downcast alphas_cumprod': True, 'Noise Schedule': 'Zero Terminal SNR'}, {})
        """
        return {**({"Downcast alphas_cumprod": True} if self.downcast else {}),
                **({"Noise Schedule": "Zero Terminal SNR"} if self.zero_terminal_snr else {})}
