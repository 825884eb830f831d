"""Image i of a batch equals a single run with seed + i (per-image generators, per-image Brownian trees)."""
import pytest
import torch

from modules.sampling.cfg import CFGDenoiser
from modules.sampling.denoiser import DiscreteDenoiser
from modules.sampling.noise import BrownianTreeNoise, ImageRNG
from modules.sampling.registry import SamplerRegistry, scale_initial_noise

from .helpers import ALPHAS, TinyEps, load_kdiffusion

# float64 so batched and single convolutions agree to rounding and only the sampling maths is compared
MODEL = TinyEps(seed=5).double()
DEN = DiscreteDenoiser(MODEL, ALPHAS, "eps")
REG = SamplerRegistry()
G = torch.Generator().manual_seed(4)
COND = torch.randn(3, 5, 8, generator=G, dtype=torch.float64)
UNCOND = torch.randn(3, 5, 8, generator=G, dtype=torch.float64)
SEEDS = [4242, 4243, 4244]


def run(sampler_name, rows, ensd=0):
    spec, _ = REG.resolve_sampler(sampler_name)
    sigmas, _ = REG.build_sigmas(spec, None, 10, DEN)
    rng = ImageRNG((4, 8, 8), [SEEDS[i] for i in rows], eta_noise_seed_delta=ensd)
    x = scale_initial_noise(spec, rng.next().double(), sigmas)
    model = CFGDenoiser(DEN, COND[rows], UNCOND[rows], 5.0)
    noise = REG.noise_sampler(spec, x, sigmas, rng)
    return spec.function(model, x, sigmas, disable=True, noise_sampler=noise, **spec.kwargs)


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M SDE", "DPM++ SDE"])
def test_batch_of_three_equals_three_single_runs(sampler):
    batch = run(sampler, [0, 1, 2])
    singles = torch.cat([run(sampler, [i]) for i in range(3)])
    assert torch.isfinite(batch).all()
    assert (batch - singles).abs().max() <= 1e-9


def test_ensd_changes_ancestral_noise_but_keeps_batches_consistent():
    plain, shifted = run("Euler a", [0, 1, 2]), run("Euler a", [0, 1, 2], ensd=31337)
    assert (plain - shifted).abs().max() > 1e-3
    assert (shifted[1:2] - run("Euler a", [1], ensd=31337)).abs().max() <= 1e-9


def test_brownian_noise_matches_k_diffusion_per_seed_trees():
    kd = load_kdiffusion()
    x = torch.zeros(2, 4, 8, 8)
    ours = BrownianTreeNoise(x, torch.tensor(0.03), torch.tensor(14.6), [11, 12])
    ref = kd.sampling.BrownianTreeNoiseSampler(x, torch.tensor(0.03), torch.tensor(14.6), seed=[11, 12])
    for s, s_next in [(14.6, 9.0), (9.0, 2.5), (2.5, 0.03)]:
        a, b = ours(torch.tensor(s), torch.tensor(s_next)), ref(torch.tensor(s), torch.tensor(s_next))
        assert torch.allclose(a, b, atol=1e-6) and a.shape == x.shape


@pytest.mark.parametrize("resize", [(0, 0), (48, 40)])
def test_whole_batch_tree_is_k_diffusions_unseeded_tree_after_a1111s_noise(resize):
    """A1111's no_dpmpp_sde_batch_determinism hands k-diffusion no noise sampler: its tree over the whole batch
    takes its seed from torch's global generator, which A1111's noise left seeded with the last image's seed (and
    advanced by that seed's draw when the seed was resized)."""
    kd = load_kdiffusion()
    x = torch.zeros(2, 4, 8, 8)
    rng = ImageRNG((4, 8, 8), [11, 12], seed_resize_from_h=resize[0], seed_resize_from_w=resize[1])
    ours = BrownianTreeNoise.whole_batch(x, torch.tensor(0.03), torch.tensor(14.6), rng)
    before = torch.random.get_rng_state()
    try:
        torch.manual_seed(12)  # A1111's randn(seed, …) seeds the global generator for every image, the last is 12
        if resize != (0, 0):
            torch.randn(rng.resized_shape())  # a resized seed draws from the global generator itself
        ref = kd.sampling.BrownianTreeNoiseSampler(x, torch.tensor(0.03), torch.tensor(14.6))
    finally:
        torch.random.set_rng_state(before)
    for s, s_next in [(14.6, 9.0), (9.0, 2.5), (2.5, 0.03)]:
        a, b = ours(torch.tensor(s), torch.tensor(s_next)), ref(torch.tensor(s), torch.tensor(s_next))
        assert torch.allclose(a, b, atol=1e-6) and a.shape == x.shape


def test_without_batch_determinism_an_sde_image_depends_on_its_batch():
    spec, _ = REG.resolve_sampler("DPM++ 2M SDE")
    sigmas, _ = REG.build_sigmas(spec, None, 10, DEN)

    def sample(rows):
        rng = ImageRNG((4, 8, 8), [SEEDS[i] for i in rows])
        x = scale_initial_noise(spec, rng.next().double(), sigmas)
        noise = REG.noise_sampler(spec, x, sigmas, rng, batch_determinism=False)
        return spec.function(CFGDenoiser(DEN, COND[rows], UNCOND[rows], 5.0), x, sigmas, disable=True,
                             noise_sampler=noise, **spec.kwargs)

    batch = sample([0, 1])
    assert torch.equal(batch, sample([0, 1]))  # still the same for the same batch
    assert (batch[1:] - sample([1])).abs().max() > 1e-3
