import math

import pytest

from modules.errors import InvalidInput
from modules.sampling.params import sampler_params
from modules.sampling.registry import SamplerRegistry

REG = SamplerRegistry()


def spec(name):
    return REG.resolve_sampler(name)[0]


def test_only_declared_tunables_are_passed():
    kwargs, info = sampler_params(spec("DPM++ 2M"), eta=0.5, s_churn=1.0)
    assert kwargs == {} and info == {}
    kwargs, info = sampler_params(spec("Euler"), eta=0.5, s_churn=1.0, s_tmax=0)
    assert kwargs == {"s_churn": 1.0, "s_tmin": 0.0, "s_tmax": math.inf, "s_noise": 1.0}
    assert info == {"Sigma churn": 1.0}


def test_eta_defaults_and_infotext_keys():
    kwargs, info = sampler_params(spec("Euler a"))
    assert kwargs["eta"] == 1.0 and info == {}
    kwargs, info = sampler_params(spec("Euler a"), eta_ancestral=0.7)
    assert kwargs["eta"] == 0.7 and info == {"Eta": 0.7}
    kwargs, info = sampler_params(spec("DDIM"))
    assert kwargs == {"eta": 0.0} and info == {}
    _, info = sampler_params(spec("DDIM"), eta=0.3)
    assert info == {"Eta DDIM": 0.3}


def test_fixed_kwargs_are_included():
    kwargs, _ = sampler_params(spec("DPM++ 2M SDE Heun"))
    assert kwargs["solver_type"] == "heun" and kwargs["eta"] == 1.0


@pytest.mark.parametrize("bad", [{"eta": -0.1}, {"s_noise": -1.0}, {"s_churn": float("nan")}, {"eta": "1"},
                                 {"s_tmin": 5.0, "s_tmax": 2.0}])
def test_bad_values_are_user_errors(bad):
    name = "Euler a" if "eta" in bad else "Euler"
    with pytest.raises(InvalidInput):
        sampler_params(spec(name), **bad)


@pytest.mark.parametrize("name", ["DPM fast", "DPM adaptive"])
def test_too_few_steps_for_a_sampler(name):
    from modules.sampling.denoiser import DiscreteDenoiser

    from .helpers import ALPHAS, TinyEps

    with pytest.raises(InvalidInput, match="steps"):
        REG.build_sigmas(name, None, 1, DiscreteDenoiser(TinyEps(), ALPHAS))
