import torch

from modules.sampling.cfg import CFGDenoiser, CFGHooks, MultiCond
from modules.sampling.denoiser import DiscreteDenoiser

from .helpers import ALPHAS, TinyEps

G = torch.Generator().manual_seed(7)
X = torch.randn(2, 4, 8, 8, generator=G) * 4  # [B, 4, h, w]
SIGMA = torch.tensor([4.0, 4.0])
COND = torch.randn(2, 6, 8, generator=G)  # [B, T, C]
UNCOND = torch.randn(2, 6, 8, generator=G)


def denoiser(model=None):
    return DiscreteDenoiser(model or TinyEps(), ALPHAS, "eps")


def test_plain_cfg_is_one_batched_call_and_the_formula():
    model = TinyEps()
    den = denoiser(model)
    out = CFGDenoiser(den, COND, UNCOND, 7.0)(X, SIGMA)
    assert model.calls == [4]  # cond and uncond rows together
    c, u = den(X, SIGMA, cond=COND), den(X, SIGMA, cond=UNCOND)
    assert torch.allclose(out, u + 7.0 * (c - u), atol=1e-5)


def test_scale_one_skips_the_uncond_pass():
    model = TinyEps()
    den = denoiser(model)
    out = CFGDenoiser(den, COND, UNCOND, 1.0)(X, SIGMA)
    assert model.calls == [2]
    assert torch.allclose(out, den(X, SIGMA, cond=COND), atol=1e-6)


def test_composable_diffusion_weights_each_part():
    den = denoiser()
    a, b, c = COND[0], UNCOND[0], COND[1]
    multi = MultiCond.from_parts([[(a, 1.0), (b, 0.5)], [(c, 0.8)]])
    assert multi.parts == (((0, 1.0), (1, 0.5)), ((2, 0.8),))
    out = CFGDenoiser(den, multi, UNCOND, 5.0)(X, SIGMA)
    d = lambda i, cond: den(X[i:i + 1], SIGMA[i:i + 1], cond=cond[None])[0]  # noqa: E731
    u0, u1 = d(0, UNCOND[0]), d(1, UNCOND[1])
    want0 = u0 + 1.0 * 5.0 * (d(0, a) - u0) + 0.5 * 5.0 * (d(0, b) - u0)
    want1 = u1 + 0.8 * 5.0 * (d(1, c) - u1)
    assert torch.allclose(out[0], want0, atol=1e-4) and torch.allclose(out[1], want1, atol=1e-4)


def test_composable_at_scale_one_still_needs_uncond():
    model = TinyEps()
    multi = MultiCond.from_parts([[(COND[0], 0.5)], [(COND[1], 1.0)]])
    CFGDenoiser(denoiser(model), multi, UNCOND, 1.0)(X, SIGMA)
    assert model.calls == [4]


def test_hooks_see_and_change_each_stage():
    seen = []

    def before(p):
        seen.append(("denoiser", p.x.shape[0], p.sampling_step, p.total_sampling_steps))
        p.text_uncond = p.text_cond.clone()  # cond == uncond -> guidance vanishes

    def after_model(p):
        seen.append(("denoised", p.x.shape[0]))

    def after_cfg(p):
        seen.append(("after", p.x.shape[0]))
        p.x = p.x * 0

    hooks = CFGHooks((before,), (after_model,), (after_cfg,))
    cfg = CFGDenoiser(denoiser(), COND, UNCOND, 9.0, hooks=hooks, total_steps=20)
    out = cfg(X, SIGMA)
    assert seen == [("denoiser", 4, 0, 20), ("denoised", 4), ("after", 2)]
    assert torch.count_nonzero(out) == 0


def test_hook_changed_conds_reach_the_model():
    den = denoiser()
    hooks = CFGHooks(on_denoiser=(lambda p: setattr(p, "text_uncond", p.text_cond),))
    out = CFGDenoiser(den, COND, UNCOND, 9.0, hooks=hooks)(X, SIGMA)
    assert torch.allclose(out, den(X, SIGMA, cond=COND), atol=1e-5)


def test_cond_schedule_is_called_with_the_model_call_count():
    asked = []

    def cond_at(step):
        asked.append(step)
        return COND

    cfg = CFGDenoiser(denoiser(), cond_at, lambda step: UNCOND, 3.0)
    for _ in range(3):
        cfg(X, SIGMA)
    assert asked == [0, 1, 2] and cfg.step == 3


def test_image_cond_is_forwarded_as_concat_for_every_row():
    model = TinyEps()
    image_cond = torch.randn(2, 1, 8, 8, generator=G)
    den = denoiser(model)
    out = CFGDenoiser(den, COND, UNCOND, 4.0, image_cond=image_cond)(X, SIGMA)
    c = den(X, SIGMA, cond=COND, concat=image_cond)
    u = den(X, SIGMA, cond=UNCOND, concat=image_cond)
    assert torch.allclose(out, u + 4.0 * (c - u), atol=1e-5)


def test_dict_conds_are_concatenated_per_key():
    got = {}

    def model_fn(x, t, cond):
        got.update(cond)
        return torch.zeros_like(x)

    den = DiscreteDenoiser(model_fn, ALPHAS, "eps")
    cond = {"crossattn": COND, "vector": torch.ones(2, 3)}
    uncond = {"crossattn": UNCOND, "vector": torch.zeros(2, 3)}
    CFGDenoiser(den, cond, uncond, 7.0)(X, SIGMA)
    assert got["crossattn"].shape == (4, 6, 8) and got["vector"].sum() == 6


def test_keep_mask_restores_the_init_latent_where_kept():
    init = torch.full_like(X, 3.0)
    keep = torch.zeros(2, 1, 8, 8)
    keep[:, :, :4] = 1
    out = CFGDenoiser(denoiser(), COND, UNCOND, 7.0, keep_mask=keep, init_latent=init)(X, SIGMA)
    assert torch.all(out[:, :, :4] == 3.0) and not torch.any(out[:, :, 4:] == 3.0)


def test_step_callback_sets_sampling_step_for_hooks():
    steps = []
    cfg = CFGDenoiser(denoiser(), COND, UNCOND, 7.0, hooks=CFGHooks((lambda p: steps.append(p.sampling_step),)))
    seen = []
    cb = cfg.step_callback(seen.append)
    cfg(X, SIGMA)
    cb({"i": 5})  # step 5 is done: the next calls belong to step 6
    cfg(X, SIGMA)
    assert steps == [0, 6] and seen == [{"i": 5}]


def test_guided_returns_uncond_when_asked():
    den = denoiser()
    cfg = CFGDenoiser(den, COND, UNCOND, 1.0)
    denoised, uncond = cfg.guided(X, SIGMA, need_uncond=True)
    assert torch.allclose(uncond, den(X, SIGMA, cond=UNCOND), atol=1e-6)
    assert torch.allclose(denoised, den(X, SIGMA, cond=COND), atol=1e-5)


def test_a_model_call_hook_makes_the_model_call_and_its_result_is_guided():
    model = TinyEps()
    den = denoiser(model)
    seen = []

    def call(inner, x, sigma, cond, extra):
        seen.append((inner is den, tuple(x.shape), tuple(cond.shape), dict(extra)))
        return inner(x, sigma, cond=cond, **extra) * 0  # every row denoised to zeros

    out = CFGDenoiser(den, COND, UNCOND, 7.0, hooks=CFGHooks(model_call=call))(X, SIGMA)
    assert seen == [(True, (4, 4, 8, 8), (4, 6, 8), {})]  # one call: cond and uncond rows, as without the hook
    assert torch.equal(out, torch.zeros_like(X))
    assert CFGHooks(model_call=call).plus(CFGHooks()).model_call is call
