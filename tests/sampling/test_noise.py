import math

import pytest
import torch

from modules.errors import InvalidInput
from modules.sampling.noise import ImageRNG, fix_seed, slerp


def draws(seed, shape, count):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g) for _ in range(count)]


def test_each_image_gets_its_own_seed_and_batches_equal_single_runs():
    rng = ImageRNG((4, 8, 8), [100, 101])
    first, second = rng.next(), rng.next()
    a, b = draws(100, (4, 8, 8), 2), draws(101, (4, 8, 8), 2)
    assert torch.equal(first, torch.stack([a[0], b[0]]))
    assert torch.equal(second, torch.stack([a[1], b[1]]))
    single = ImageRNG((4, 8, 8), [101])
    assert torch.equal(single.next()[0], first[1]) and torch.equal(single.next()[0], second[1])


def test_eta_noise_seed_delta_reseeds_the_sampler_noise():
    rng = ImageRNG((4, 4, 4), [7, 8], eta_noise_seed_delta=31337)
    first, later = rng.next(), rng.next()
    assert torch.equal(first[0], draws(7, (4, 4, 4), 1)[0])
    assert torch.equal(later, torch.stack([draws(7 + 31337, (4, 4, 4), 1)[0], draws(8 + 31337, (4, 4, 4), 1)[0]]))


def slerp_by_hand(val, low, high):
    """Per (channel, column) vectors along dim 1, as A1111's slerp normalises a [C, H, W] tensor."""
    out = torch.empty_like(low)
    dots = []
    for c in range(low.shape[0]):
        for w in range(low.shape[2]):
            lo, hi = low[c, :, w], high[c, :, w]
            dots.append(float((lo / lo.norm()) @ (hi / hi.norm())))
    if sum(dots) / len(dots) > 0.9995:
        return low * val + high * (1 - val)
    k = 0
    for c in range(low.shape[0]):
        for w in range(low.shape[2]):
            omega = math.acos(dots[k])
            k += 1
            so = math.sin(omega)
            out[c, :, w] = math.sin((1 - val) * omega) / so * low[c, :, w] + math.sin(val * omega) / so * high[c, :, w]
    return out


def test_variation_seed_is_slerped_with_the_seed_noise():
    rng = ImageRNG((2, 3, 5), [11], subseeds=[22], subseed_strength=0.3)
    got = rng.first()[0]
    want = slerp_by_hand(0.3, draws(11, (2, 3, 5), 1)[0], draws(22, (2, 3, 5), 1)[0])
    assert torch.allclose(got, want, atol=1e-5)


def test_slerp_of_parallel_vectors_is_linear():
    low = torch.ones(1, 4, 2)
    assert torch.allclose(slerp(0.25, low, 3 * low), 0.25 * low + 0.75 * 3 * low)


def test_resize_seed_from_smaller_is_centred_on_the_generator_noise():
    rng = ImageRNG((1, 4, 4), [5], seed_resize_from_h=16, seed_resize_from_w=16)
    got = rng.first()[0]
    small = draws(5, (1, 2, 2), 1)[0]
    want = draws(5, (1, 4, 4), 1)[0]  # the image's generator draws the full size canvas
    want[:, 1:3, 1:3] = small
    assert torch.equal(got, want)
    assert torch.equal(rng.next()[0], draws(5, (1, 4, 4), 2)[1])


def test_resize_seed_from_larger_is_cropped_around_the_centre():
    rng = ImageRNG((1, 4, 4), [5], seed_resize_from_h=48, seed_resize_from_w=48)
    big = draws(5, (1, 6, 6), 1)[0]
    assert torch.equal(rng.first()[0], big[:, 1:5, 1:5])


def test_resize_seed_sizes_are_pixels_of_the_models_latent_factor():
    rng = ImageRNG((1, 4, 4), [5], seed_resize_from_h=8, seed_resize_from_w=8, latent_factor=4)  # f=4: 2×2 cells
    got = rng.first()[0]
    want = draws(5, (1, 4, 4), 1)[0]
    want[:, 1:3, 1:3] = draws(5, (1, 2, 2), 1)[0]
    assert torch.equal(got, want)


def test_noise_sampler_draws_later_noise_like_x():
    rng = ImageRNG((4, 4, 4), [3])
    rng.next()
    x = torch.zeros(1, 4, 4, 4, dtype=torch.float64)
    noise = rng.noise_sampler(x)(1.0, 0.5)
    assert noise.dtype == torch.float64 and torch.equal(noise[0].float(), draws(3, (4, 4, 4), 2)[1])


def test_fix_seed():
    assert fix_seed(1234) == 1234
    for value in (-1, None, ""):
        seed = fix_seed(value)
        assert 0 <= seed < 4294967294
    with pytest.raises(InvalidInput, match="seed"):
        fix_seed("abc")
    with pytest.raises(InvalidInput, match="seed"):
        fix_seed(-5)


def test_unknown_noise_source_is_a_user_error():
    with pytest.raises(InvalidInput, match="randn_source"):
        ImageRNG((4, 4, 4), [1], source="philox")


def test_nv_source_draws_cuda_numbers_per_image():
    from modules.sampling.philox import PhiloxGenerator

    rng = ImageRNG((2, 3, 4), [0, 7], source="nv")
    first, second = rng.next(), rng.next()
    # CUDA torch.randn(2, 3, 4) for seed 0 starts -0.9247, -0.4253, -2.6438, 0.1452 (A1111's rng_philox docs)
    assert [round(v, 4) for v in first[0].flatten()[:4].tolist()] == [-0.9247, -0.4253, -2.6438, 0.1452]
    g = PhiloxGenerator(7)
    assert torch.equal(first[1], torch.from_numpy(g.randn((2, 3, 4))))
    assert torch.equal(second[1], torch.from_numpy(g.randn((2, 3, 4))))
    assert abs(float(first.std()) - 1) < 0.5
