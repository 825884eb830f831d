import pytest
import torch

from modules.errors import InvalidInput
from modules.sampling.denoiser import DiscreteDenoiser

from .helpers import ALPHAS, TinyEps, load_kdiffusion


class CompVisLike:
    """What k-diffusion's CompVisDenoiser expects: alphas_cumprod and apply_model(x, t, cond=...)."""

    def __init__(self, model):
        self.alphas_cumprod = ALPHAS
        self.model = model

    def apply_model(self, x, t, cond=None):
        return self.model(x, t, cond)


@pytest.fixture(scope="module")
def kd():
    return load_kdiffusion()


def test_schedule_tensors_match_compvis_denoiser(kd):
    ref = kd.external.CompVisDenoiser(CompVisLike(TinyEps()))
    ours = DiscreteDenoiser(TinyEps(), ALPHAS, "eps")
    assert torch.equal(ours.sigmas, ref.sigmas)
    assert float(ours.sigma_min) == float(ref.sigma_min) and float(ours.sigma_max) == float(ref.sigma_max)
    for n in (1, 2, 7, 20, 50):
        assert torch.allclose(ours.get_sigmas(n), ref.get_sigmas(n), atol=1e-6, rtol=0)
    assert torch.equal(ours.get_sigmas(), ref.get_sigmas())


@pytest.mark.parametrize("quantize", [False, True])
def test_sigma_t_round_trip_matches_k_diffusion(kd, quantize):
    ref = kd.external.CompVisDenoiser(CompVisLike(TinyEps()), quantize=quantize)
    ours = DiscreteDenoiser(TinyEps(), ALPHAS, "eps", quantize=quantize)
    sigma = torch.exp(torch.linspace(-3.5, 2.7, 97))
    assert torch.allclose(ours.sigma_to_t(sigma), ref.sigma_to_t(sigma), atol=1e-5, rtol=0)
    t = torch.linspace(0, 999, 211)
    assert torch.allclose(ours.t_to_sigma(t), ref.t_to_sigma(t), atol=1e-6, rtol=1e-6)
    if not quantize:
        assert torch.allclose(ours.t_to_sigma(ours.sigma_to_t(sigma[10:90])), sigma[10:90], rtol=1e-4)


def test_eps_denoiser_matches_compvis_denoiser(kd):
    model = TinyEps()
    ref = kd.external.CompVisDenoiser(CompVisLike(model))
    ours = DiscreteDenoiser(model, ALPHAS, "epsilon")
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 5
    sigma = torch.tensor([14.6, 3.0, 0.05])
    cond = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(ours(x, sigma, cond=cond), ref(x, sigma, cond=cond), atol=1e-6, rtol=1e-6)


def test_v_denoiser_matches_compvis_v_denoiser(kd):
    model = TinyEps(seed=3)
    ref = kd.external.CompVisVDenoiser(CompVisLike(model))
    ours = DiscreteDenoiser(model, ALPHAS, "v_prediction")
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 3
    sigma = torch.tensor([9.0, 0.3])
    cond = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(ours(x, sigma, cond=cond), ref(x, sigma, cond=cond), atol=1e-6, rtol=1e-6)


def test_eps_scalings_by_hand():
    seen = {}

    def model_fn(x_in, t, **kwargs):
        seen.update(x_in=x_in, t=t, kwargs=kwargs)
        return torch.ones_like(x_in)

    den = DiscreteDenoiser(model_fn, ALPHAS, "eps")
    x = torch.full((1, 4, 2, 2), 2.0)
    sigma = den.sigmas[500:501]
    out = den(x, sigma, cond="c")
    assert torch.allclose(seen["x_in"], x / (sigma ** 2 + 1) ** 0.5)
    assert torch.allclose(seen["t"], torch.tensor([500.0]), atol=1e-3)
    assert seen["kwargs"] == {"cond": "c"}
    assert torch.allclose(out, x - sigma)  # x - sigma * eps with eps = 1


def test_unknown_prediction_type_is_a_user_error():
    with pytest.raises(InvalidInput) as err:
        DiscreteDenoiser(TinyEps(), ALPHAS, "x0")
    assert "prediction_type" in str(err.value) and "v_prediction" in str(err.value)


def test_to_moves_schedule_and_keeps_model():
    den = DiscreteDenoiser(TinyEps(), ALPHAS, "v")
    moved = den.to("cpu")
    assert moved.model_fn is den.model_fn and moved.prediction_type == "v"
    assert torch.equal(moved.log_sigmas, den.log_sigmas)
