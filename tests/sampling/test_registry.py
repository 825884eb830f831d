import pytest
import torch

from modules.errors import InvalidInput
from modules.sampling import schedules as sch
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.noise import BrownianTreeNoise, ImageRNG
from modules.sampling.registry import SamplerRegistry, scale_initial_noise
from modules.sampling.specs import SamplerSpec, SchedulerSpec, SigmaOverrides

from .helpers import ALPHAS, TinyEps

DEN = DiscreteDenoiser(TinyEps(), ALPHAS, "eps")
LO, HI = float(DEN.sigma_min), float(DEN.sigma_max)


@pytest.fixture
def reg():
    return SamplerRegistry()


def test_names_aliases_and_case(reg):
    assert reg.resolve_sampler("Euler a")[0].name == "Euler a"
    assert reg.resolve_sampler("k_euler_a")[0].name == "Euler a"
    assert reg.resolve_sampler("K_EULER_ANCESTRAL")[0].name == "Euler a"
    assert reg.resolve_sampler("dpm++ 2m") == (reg.resolve_sampler("k_dpmpp_2m")[0], None)
    assert reg.resolve_sampler(None)[0].name == reg.samplers[0].name


def test_old_combined_names_split_into_sampler_and_scheduler(reg):
    spec, scheduler = reg.resolve_sampler("DPM++ 2M Karras")
    assert spec.name == "DPM++ 2M" and scheduler.label == "Karras"
    spec, scheduler = reg.resolve_sampler("Euler SGMUniform")
    assert spec.name == "Euler" and scheduler.name == "sgm_uniform"


def test_unknown_names_are_user_errors_listing_valid_ones(reg):
    with pytest.raises(InvalidInput) as err:
        reg.resolve_sampler("Euler z")
    assert err.value.field == "sampler_name" and "DPM++ 2M" in err.value.valid and "Euler a" in err.value.valid
    with pytest.raises(InvalidInput) as err:
        reg.resolve_scheduler("Karas")
    assert err.value.field == "scheduler" and "Karras" in err.value.valid


def test_scheduler_lookup(reg):
    assert reg.resolve_scheduler("karras").label == "Karras"
    assert reg.resolve_scheduler("Align Your Steps").name == "align_your_steps"
    assert reg.resolve_scheduler(None).name == "automatic"
    assert [s.label for s in reg.schedulers][:3] == ["Automatic", "Uniform", "Karras"]


def test_automatic_uses_the_sampler_default(reg):
    sigmas, extras = reg.build_sigmas("DPM++ 2M", "Automatic", 10, DEN)
    assert torch.allclose(sigmas, sch.get_sigmas_karras(10, LO, HI))
    assert extras == {"Schedule type": "Karras"}
    sigmas, extras = reg.build_sigmas("Euler", None, 10, DEN)
    assert torch.equal(sigmas, DEN.get_sigmas(10)) and extras == {}


def test_overrides_and_their_infotext(reg):
    ov = SigmaOverrides(sigma_min=0.05, sigma_max=12.0, rho=5.0)
    sigmas, extras = reg.build_sigmas("Euler", "karras", 8, DEN, ov)
    assert torch.allclose(sigmas, sch.get_sigmas_karras(8, 0.05, 12.0, rho=5.0))
    assert extras == {"Schedule type": "Karras", "Schedule min sigma": 0.05, "Schedule max sigma": 12.0,
                      "Schedule rho": 5.0}
    _, extras = reg.build_sigmas("Euler", "exponential", 8, DEN, {"rho": 5.0})
    assert "Schedule rho" not in extras  # exponential has no rho
    _, extras = reg.build_sigmas("Euler", "karras", 8, DEN, {"rho": 7.0})
    assert "Schedule rho" not in extras  # the default rho is not written


def test_options_snapshot_objects_are_read_by_attribute(reg):
    class Opts:
        sigma_min = 0.0
        use_old_karras_scheduler_sigmas = True
        beta_dist_alpha = None

    sigmas, _ = reg.build_sigmas("Euler", "karras", 6, DEN, Opts())
    assert torch.allclose(sigmas, sch.get_sigmas_karras(6, 0.1, 10.0))


def test_beta_writes_its_parameters(reg):
    sigmas, extras = reg.build_sigmas("Euler", "beta", 6, DEN, {"beta_dist_alpha": 0.5})
    assert extras == {"Schedule type": "Beta", "Beta schedule alpha": 0.5, "Beta schedule beta": 0.6}
    assert torch.allclose(sigmas, sch.beta_schedule(6, LO, HI, DEN, alpha=0.5, beta=0.6))


def test_always_discard_penultimate_sigma(reg):
    sigmas, extras = reg.build_sigmas("Euler", "karras", 8, DEN, {"always_discard_next_to_last_sigma": True})
    full = sch.get_sigmas_karras(9, LO, HI)
    assert torch.equal(sigmas, torch.cat([full[:-2], full[-1:]])) and len(sigmas) == 9
    assert extras["Discard penultimate sigma"] is True


def test_hires_pass_writes_its_own_label_only_when_different(reg):
    _, extras = reg.build_sigmas("Euler", "karras", 4, DEN, hires=True, first_pass_schedule="Karras")
    assert extras == {}
    _, extras = reg.build_sigmas("Euler", "exponential", 4, DEN, hires=True, first_pass_schedule="Karras")
    assert extras == {"Hires schedule type": "Exponential"}


def test_bad_steps_and_sigmas_are_user_errors(reg):
    for steps in (0, -3, 2.5):
        with pytest.raises(InvalidInput, match="steps"):
            reg.build_sigmas("Euler", None, steps, DEN)
    with pytest.raises(InvalidInput, match="sigma_min"):
        reg.build_sigmas("Euler", "karras", 5, DEN, {"sigma_min": -1.0})


def test_extensions_add_rows_until_frozen(reg):
    reg.add_sampler(SamplerSpec("My sampler", lambda *a, **k: None, ("my_s",), "karras"))
    reg.add_scheduler(SchedulerSpec("mine", "Mine", sch.get_sigmas_exponential))
    assert reg.resolve_sampler("MY_S")[0].name == "My sampler"
    assert reg.resolve_sampler("My sampler Mine")[1].name == "mine"
    with pytest.raises(ValueError):
        reg.add_sampler(SamplerSpec("Euler", lambda *a, **k: None))
    reg.freeze()
    with pytest.raises(RuntimeError):
        reg.add_scheduler(SchedulerSpec("late", "Late", sch.get_sigmas_exponential))


def test_spec_helpers(reg):
    euler_a = reg.resolve_sampler("Euler a")[0]
    assert euler_a.total_steps(20) == 20
    assert reg.resolve_sampler("DPM++ 2M")[0].api_options() == {"scheduler": "karras"}
    assert euler_a.api_options() == {"uses_ensd": True}
    noise = torch.ones(1, 4, 2, 2)
    sigmas = torch.tensor([3.0, 1.0, 0.0])
    assert torch.equal(scale_initial_noise(euler_a, noise, sigmas), noise * 3.0)
    assert torch.allclose(scale_initial_noise(euler_a, noise, sigmas, sgm_noise_multiplier=True), noise * 10 ** 0.5)


def test_noise_sampler_for_a_run(reg):
    rng = ImageRNG((4, 2, 2), [1, 2])
    x = rng.next()
    ns = reg.noise_sampler("Euler a", x, torch.tensor([3.0, 1.0, 0.0]), rng)
    assert not isinstance(ns, BrownianTreeNoise) and ns(3.0, 1.0).shape == x.shape


def test_every_row_names_code_that_exists(reg):
    """The built-in rows hold `Deferred` references (imported on first use): a misspelt name would only
    fail when that sampler first ran, so each is resolved here, as the start-up warm-up does."""
    from modules.lazy import Deferred
    from modules.sampling import lcm, samplers

    reg.load_code()
    for spec in reg.samplers:
        assert isinstance(spec.function, Deferred) and callable(spec.function.resolve()), spec.name
        assert spec.function.resolve() is getattr(samplers, spec.function.name)
    assert reg.resolve_sampler("LCM")[0].denoiser.resolve() is lcm.LCMDenoiser
    assert reg.resolve_sampler("Euler")[0].denoiser.resolve() is DiscreteDenoiser
    from modules.sampling import few_step_schedules

    homes = {"modules.sampling.schedules": sch, "modules.sampling.few_step_schedules": few_step_schedules}
    for scheduler in reg.schedulers:
        if scheduler.function is not None:
            home = homes[scheduler.function.module]
            assert scheduler.function.resolve() is getattr(home, scheduler.function.name), scheduler.name
