"""Our samplers against k-diffusion's on the same model, schedule and noise (float32, max abs diff <= 1e-4)."""
import inspect

import pytest
import torch

from modules.errors import Interrupted
from modules.sampling import samplers as ours
from modules.sampling import schedules as sch
from modules.sampling.cfg import CFGDenoiser
from modules.sampling.denoiser import DiscreteDenoiser

from .helpers import ALPHAS, NoiseList, TinyEps, load_kdiffusion, with_kdiffusion_noise

KD = load_kdiffusion()
SHAPE = (2, 4, 8, 8)
G = torch.Generator().manual_seed(3)
COND, UNCOND = torch.randn(2, 5, 8, generator=G), torch.randn(2, 5, 8, generator=G)
DEN = DiscreteDenoiser(TinyEps(), ALPHAS, "eps")
MODEL = CFGDenoiser(DEN, COND, UNCOND, 6.0)
SCHEDULES = {
    "default": DEN.get_sigmas(12),
    "karras": sch.get_sigmas_karras(12, float(DEN.sigma_min), float(DEN.sigma_max)),
}



def k_dpm_fast(model, x, sigmas, **kwargs):
    return KD.sampling.sample_dpm_fast(model, x, sigmas[-2], sigmas[0], len(sigmas) - 1, **kwargs)


def k_dpm_adaptive(model, x, sigmas, **kwargs):
    return KD.sampling.sample_dpm_adaptive(model, x, sigmas[-2], sigmas[0], **kwargs)


CHURN = {"s_churn": 2.0, "s_tmin": 0.5, "s_tmax": 8.0}
ETA = {"eta": 0.6, "s_noise": 0.9}
# (our function, k-diffusion function or name, kwargs for both)
CASES = {
    "euler": (ours.sample_euler, "sample_euler", {}),
    "euler churn": (ours.sample_euler, "sample_euler", CHURN),
    "euler a": (ours.sample_euler_ancestral, "sample_euler_ancestral", {}),
    "euler a eta": (ours.sample_euler_ancestral, "sample_euler_ancestral", ETA),
    "heun": (ours.sample_heun, "sample_heun", {}),
    "heun churn": (ours.sample_heun, "sample_heun", CHURN),
    "dpm2": (ours.sample_dpm_2, "sample_dpm_2", {}),
    "dpm2 churn": (ours.sample_dpm_2, "sample_dpm_2", CHURN),
    "dpm2 a": (ours.sample_dpm_2_ancestral, "sample_dpm_2_ancestral", {}),
    "lms": (ours.sample_lms, "sample_lms", {}),
    "lms order 3": (ours.sample_lms, "sample_lms", {"order": 3}),
    "dpm fast": (ours.sample_dpm_fast, k_dpm_fast, {}),
    "dpm fast eta": (ours.sample_dpm_fast, k_dpm_fast, {"eta": 1.0}),
    "dpm adaptive": (ours.sample_dpm_adaptive, k_dpm_adaptive, {"rtol": 0.1, "atol": 0.02}),
    "dpm adaptive eta": (ours.sample_dpm_adaptive, k_dpm_adaptive, {"eta": 1.0, "order": 2, "rtol": 0.2}),
    "dpm++ 2s a": (ours.sample_dpmpp_2s_ancestral, "sample_dpmpp_2s_ancestral", {}),
    "dpm++ 2s a eta": (ours.sample_dpmpp_2s_ancestral, "sample_dpmpp_2s_ancestral", ETA),
    "dpm++ sde": (ours.sample_dpmpp_sde, "sample_dpmpp_sde", {}),
    "dpm++ sde r": (ours.sample_dpmpp_sde, "sample_dpmpp_sde", {"r": 0.3, "eta": 0.5}),
    "dpm++ 2m": (ours.sample_dpmpp_2m, "sample_dpmpp_2m", {}),
    "dpm++ 2m sde": (ours.sample_dpmpp_2m_sde, "sample_dpmpp_2m_sde", {}),
    "dpm++ 2m sde heun": (ours.sample_dpmpp_2m_sde, "sample_dpmpp_2m_sde", {"solver_type": "heun"}),
    "dpm++ 2m sde eta 0": (ours.sample_dpmpp_2m_sde, "sample_dpmpp_2m_sde", {"eta": 0.0}),
    "dpm++ 3m sde": (ours.sample_dpmpp_3m_sde, "sample_dpmpp_3m_sde", {}),
    "dpm++ 3m sde eta": (ours.sample_dpmpp_3m_sde, "sample_dpmpp_3m_sde", ETA),
}


def start(sigmas):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(9)) * sigmas[0]


def run_pair(fn, kname, kwargs, sigmas):
    """Both implementations from the same start with the same noise stream (noise_sampler or randn_like)."""
    noises = NoiseList(SHAPE)
    takes_noise = "noise_sampler" in inspect.signature(fn).parameters
    mine_kwargs = dict(kwargs, noise_sampler=noises.fresh()) if takes_noise else dict(kwargs)
    mine = fn(MODEL, start(sigmas), sigmas, disable=True, **mine_kwargs)
    kfn = getattr(KD.sampling, kname) if isinstance(kname, str) else kname
    ref_kwargs = dict(kwargs)
    if "noise_sampler" in inspect.signature(kfn).parameters or not isinstance(kname, str):
        ref_kwargs["noise_sampler"] = noises.fresh()
    ref = with_kdiffusion_noise(KD, noises.fresh(), kfn, MODEL, start(sigmas), sigmas, disable=True, **ref_kwargs)
    return mine, ref


@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("case", list(CASES))
def test_matches_k_diffusion(case, schedule):
    fn, kname, kwargs = CASES[case]
    mine, ref = run_pair(fn, kname, kwargs, SCHEDULES[schedule])
    assert torch.isfinite(mine).all()
    assert (mine - ref).abs().max() <= 1e-4


def test_callback_reports_every_step_and_can_interrupt():
    sigmas = SCHEDULES["karras"]
    seen = []
    ours.sample_dpmpp_2m(MODEL, start(sigmas), sigmas, callback=seen.append, disable=True)
    assert [d["i"] for d in seen] == list(range(12))
    assert set(seen[0]) == {"x", "i", "sigma", "sigma_hat", "denoised"}

    def stop(d):
        if d["i"] == 2:
            raise Interrupted()

    with pytest.raises(Interrupted):
        ours.sample_euler(MODEL, start(sigmas), sigmas, callback=stop, disable=True)
