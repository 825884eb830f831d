import numpy as np
import pytest
import torch
from scipy import stats

from modules.sampling import schedules as sch
from modules.sampling.denoiser import DiscreteDenoiser

from .helpers import ALPHAS, TinyEps, load_kdiffusion

KD = load_kdiffusion()
DEN = DiscreteDenoiser(TinyEps(), ALPHAS, "eps")
REF = KD.external.DiscreteEpsDDPMDenoiser(TinyEps(), ALPHAS, quantize=False)
LO, HI = float(DEN.sigma_min), float(DEN.sigma_max)


@pytest.mark.parametrize("n", [1, 2, 10, 20, 37])
def test_k_diffusion_schedules(n):
    k = KD.sampling
    assert torch.allclose(sch.get_sigmas_karras(n, LO, HI), k.get_sigmas_karras(n, LO, HI), atol=1e-6, rtol=0)
    assert torch.allclose(sch.get_sigmas_karras(n, 0.1, 10, rho=3.), k.get_sigmas_karras(n, 0.1, 10, rho=3.),
                          atol=1e-6, rtol=0)
    assert torch.allclose(sch.get_sigmas_exponential(n, LO, HI), k.get_sigmas_exponential(n, LO, HI),
                          atol=1e-6, rtol=0)
    for rho in (1., 2.5):
        assert torch.allclose(sch.get_sigmas_polyexponential(n, LO, HI, rho),
                              k.get_sigmas_polyexponential(n, LO, HI, rho), atol=1e-6, rtol=0)


# A1111 1.10 sd_schedulers, transcribed as the oracle for the model-dependent schedules.
def a1111_normal(n, inner, sgm=False):
    start, end = inner.sigma_to_t(torch.tensor(HI)), inner.sigma_to_t(torch.tensor(LO))
    ts = torch.linspace(start, end, n + 1)[:-1] if sgm else torch.linspace(start, end, n)
    return torch.FloatTensor([inner.t_to_sigma(t) for t in ts] + [0.0])


def a1111_simple(n, inner):
    ss = len(inner.sigmas) / n
    return torch.FloatTensor([float(inner.sigmas[-(1 + int(x * ss))]) for x in range(n)] + [0.0])


def a1111_ddim(n, inner):
    sigs, ss, x = [], max(len(inner.sigmas) // n, 1), 1
    while x < len(inner.sigmas):
        sigs.append(float(inner.sigmas[x]))
        x += ss
    return torch.FloatTensor(sigs[::-1] + [0.0])


@pytest.mark.parametrize("n", [1, 3, 20, 33])
def test_model_dependent_schedules_match_a1111(n):
    close = lambda a, b: torch.allclose(a, b, atol=1e-6, rtol=1e-6)  # noqa: E731
    assert close(sch.uniform(n, LO, HI, DEN), REF.get_sigmas(n))
    assert close(sch.normal(n, LO, HI, DEN), a1111_normal(n, REF))
    assert close(sch.sgm_uniform(n, LO, HI, DEN), a1111_normal(n, REF, sgm=True))
    assert close(sch.simple(n, LO, HI, DEN), a1111_simple(n, REF))
    assert close(sch.ddim_uniform(n, LO, HI, DEN), a1111_ddim(n, REF))


def test_ddim_schedule_is_a1111_timesteps():
    sigmas = sch.ddim_uniform(20, LO, HI, DEN)
    assert len(sigmas) == 21 and sigmas[-1] == 0
    assert torch.allclose(sigmas[:-1], DEN.sigmas[torch.arange(1, 1000, 50)].flip(0))


@pytest.mark.parametrize("n", [1, 4, 20])
def test_kl_optimal_is_even_in_arctan_and_ends_at_sigma_min(n):
    sigmas = sch.kl_optimal(n, LO, HI)
    want = np.tan(np.linspace(np.arctan(HI), np.arctan(LO), n + 1))
    assert np.allclose(sigmas.numpy(), want, rtol=1e-5) and len(sigmas) == n + 1


def test_align_your_steps():
    table = list(sch.AYS_SIGMAS["sd15"])
    assert torch.allclose(sch.align_your_steps(11, LO, HI), torch.FloatTensor(table + [0.0]))
    for n in (5, 10, 30):
        xs, ys = np.linspace(0, 1, len(table)), np.log(table[::-1])
        want = np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1]
        got = sch.align_your_steps(n, LO, HI)
        assert np.allclose(got[:-1].numpy(), want, rtol=1e-6) and got[-1] == 0
    assert sch.align_your_steps(11, LO, HI, is_sdxl=True)[2] == pytest.approx(3.771)


@pytest.mark.parametrize("alpha,beta", [(0.6, 0.6), (0.5, 0.7), (2.0, 1.0)])
def test_beta_schedule_matches_scipy(alpha, beta):
    n = 25
    quantiles = [stats.beta.ppf(x, alpha, beta) for x in 1 - np.linspace(0, 1, n)]
    want = torch.FloatTensor([LO + q * (HI - LO) for q in quantiles] + [0.0])
    got = sch.beta_schedule(n, LO, HI, DEN, alpha=alpha, beta=beta)
    assert torch.allclose(got, want, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("fn", [sch.get_sigmas_karras, sch.get_sigmas_exponential, sch.get_sigmas_polyexponential])
def test_schedules_descend_from_max_to_zero(fn):
    sigmas = fn(15, LO, HI)
    assert len(sigmas) == 16 and sigmas[-1] == 0
    assert sigmas[0] == pytest.approx(HI, rel=1e-5) and sigmas[-2] == pytest.approx(LO, rel=1e-5)
    assert torch.all(sigmas[1:] < sigmas[:-1])
