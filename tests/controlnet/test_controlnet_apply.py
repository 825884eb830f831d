"""The per-call ControlNet rules of modules/controlnet/apply.py, with a stand-in network whose residuals are known."""
from __future__ import annotations

import pytest
import torch

from modules.controlnet.apply import ControlRun, ResolvedControl, control_scales, inpaint_hint
from modules.controlnet.units import ControlMode, HiresOption
from modules.sampling.cfg import CFGDenoiser, MultiCond
from modules.sampling.cfg_hooks import DenoiserParams


class FakeControl:
    """Residual i = (i + 1) · (mean of the hint per row), three residuals; records what it was given."""

    in_channels = 4
    global_average_pooling = False

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, context, hint, added_cond_kwargs=None):
        self.calls.append((x.shape, t.clone(), context.shape, hint.clone()))
        level = hint.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)  # [k, 1, 1, 1]
        return [torch.ones(x.shape[0], 2, 4, 4) * level * (i + 1) for i in range(3)]


def unit(hint=None, **fields) -> ResolvedControl:
    hint = torch.full((1, 3, 32, 32), 0.5) if hint is None else hint
    return ResolvedControl("ControlNet 0", fields.pop("control", None) or FakeControl(), hint, **fields)


def call(run: ControlRun, rows: int = 2, rows_index=None):
    return run.residuals(torch.zeros(rows, 4, 4, 4), torch.full((rows,), 500.0), torch.zeros(rows, 77, 8), rows_index)


def observe(run: ControlRun, step: int, total: int, cond, rows: int) -> None:
    run.observe(DenoiserParams(torch.zeros(rows, 4, 4, 4), None, torch.ones(rows), step, total, cond, None, None))


def test_balanced_scales_every_residual_by_the_weight():
    out = call(ControlRun([unit(weight=0.5)]))
    assert [float(r[0, 0, 0, 0]) for r in out] == [0.25, 0.5, 0.75]


def test_soft_modes_use_the_extensions_exponent_rule():
    for mode in (ControlMode.PROMPT, ControlMode.CONTROL):
        out = call(ControlRun([unit(control_mode=mode)]))
        expected = [0.5 * (i + 1) * s for i, s in enumerate(control_scales(1.0, 3, True))]
        assert [float(r[0, 0, 0, 0]) for r in out] == pytest.approx(expected)
        assert control_scales(1.0, 13, True)[12] == 1.0 and control_scales(1.0, 13, True)[0] == 0.825 ** 12


def test_controlnet_is_more_important_steers_only_the_cond_rows():
    run = ControlRun([unit(control_mode=ControlMode.CONTROL)])
    observe(run, 0, 10, torch.zeros(2, 77, 8), rows=4)  # rows: 2 cond (images 0, 1), then 2 uncond
    out = call(run, rows=4)
    assert out[0][:2].abs().min() > 0 and out[0][2:].abs().max() == 0
    balanced = ControlRun([unit()])
    observe(balanced, 0, 10, torch.zeros(2, 77, 8), rows=4)
    assert call(balanced, rows=4)[0].abs().min() > 0


def test_rows_of_a_call_get_their_images_hint_and_side():
    hints = torch.stack([torch.full((3, 32, 32), v) for v in (0.2, 0.8)])  # one hint per image
    run = ControlRun([unit(hints, control_mode=ControlMode.CONTROL)])
    parts = [[(torch.zeros(77, 8), 1.0)], [(torch.zeros(77, 8), 0.5), (torch.zeros(77, 8), 0.5)]]
    cfg = CFGDenoiser(lambda *a, **k: None, MultiCond.from_parts(parts), None, 7.0)
    run.observe(DenoiserParams(torch.zeros(5, 4, 4, 4), None, torch.ones(5), 0, 10, torch.zeros(3, 77, 8), None, cfg))
    out = run.residuals(torch.zeros(2, 4, 4, 4), torch.ones(2), torch.zeros(2, 77, 8), torch.tensor([2, 4]))
    # row 2: image 1's second AND-part (cond, hint 0.8); row 4: image 1's uncond row
    soft = control_scales(1.0, 3, True)[0]
    assert float(out[0][0, 0, 0, 0]) == pytest.approx(0.8 * soft) and float(out[0][1].abs().max()) == 0


def test_guidance_window_weight_zero_and_hires_options():
    run = ControlRun([unit(guidance_start=0.2, guidance_end=0.5)])
    active = []
    for step in range(10):
        observe(run, step, 10, torch.zeros(2, 77, 8), rows=2)
        active.append(call(run) is not None)
    assert active == [False, False, True, True, True, True, False, False, False, False]
    assert call(ControlRun([unit(weight=0.0)])) is None
    assert call(ControlRun([unit(hr_option=HiresOption.HIGH_RES_ONLY)], "first")) is None
    assert call(ControlRun([unit(hr_option=HiresOption.HIGH_RES_ONLY)], "hires")) is not None
    assert call(ControlRun([unit(hr_option=HiresOption.LOW_RES_ONLY)], "hires")) is None
    assert call(ControlRun([unit(hr_option=HiresOption.HIGH_RES_ONLY)], "single")) is not None


def test_canny_units_get_soft_weights_in_the_hires_pass_only():
    first = call(ControlRun([unit(module="canny")], "first"))
    hires = call(ControlRun([unit(module="canny", hr_hint=torch.full((1, 3, 32, 32), 0.5))], "hires"))
    soft = control_scales(1.0, 3, True)[0]
    assert float(first[0][0, 0, 0, 0]) == 0.5 and float(hires[0][0, 0, 0, 0]) == pytest.approx(0.5 * soft)


def test_units_sum_and_hints_follow_the_latent_size():
    a, b = FakeControl(), FakeControl()
    run = ControlRun([unit(control=a, weight=1.0), unit(torch.full((1, 3, 64, 64), 1.0), control=b, weight=0.5)])
    out = run.residuals(torch.zeros(1, 4, 4, 4), torch.ones(1), torch.zeros(1, 77, 8))
    assert float(out[1][0, 0, 0, 0]) == pytest.approx(2 * 0.5 + 2 * 1.0 * 0.5)
    assert a.calls[0][3].shape[-2:] == (32, 32) and b.calls[0][3].shape[-2:] == (32, 32)  # 64 → 8 × 4 latents


def test_the_hires_pass_takes_its_own_hint_and_global_pooling_averages():
    pooled = FakeControl()
    pooled.global_average_pooling = True
    low, high = torch.full((1, 3, 32, 32), 0.25), torch.full((1, 3, 64, 64), 0.75)
    run = ControlRun([unit(low, control=pooled, hr_hint=high)], "hires")
    out = run.residuals(torch.zeros(1, 4, 8, 8), torch.ones(1), torch.zeros(1, 77, 8))
    assert pooled.calls[0][3].shape[-1] == 64 and float(pooled.calls[0][3].mean()) == 0.75
    assert out[0].shape == (1, 2, 1, 1)


def test_an_inpaint_hint_marks_masked_pixels_minus_one():
    hint = torch.cat([torch.full((1, 3, 2, 2), 0.5), torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])], dim=1)
    assert inpaint_hint(hint)[0, :, 0, 0].tolist() == [-1.0] * 3 and inpaint_hint(hint)[0, 0, 1, 1] == 0.5


def test_only_the_checkpoint_the_unit_was_checked_against_is_steered():
    """A refiner switched in mid-sampling has another UNet: the extension's hook never reaches it."""
    base, refiner = object(), object()
    run = ControlRun([unit(unet=base)])
    args = (torch.zeros(1, 4, 4, 4), torch.ones(1), torch.zeros(1, 77, 8), None, None)
    assert run.residuals(*args, unet=base) is not None and run.residuals(*args, unet=refiner) is None


def test_low_vram_parks_every_network_on_the_cpu_between_calls():
    class Placed(FakeControl):
        def __init__(self):
            super().__init__()
            self.places = []

        def place(self, device):
            self.places.append(str(device))

    low, other = Placed(), Placed()
    call(ControlRun([unit(control=low, low_vram=True), unit(control=other)]))
    assert low.places == ["cpu", "cpu"] and other.places == ["cpu", "cpu"]  # to the sampler's device, then parked
    kept = Placed()
    call(ControlRun([unit(control=kept)]))
    assert kept.places == ["cpu"]


def test_soft_scales_keep_the_extensions_numbers_and_a_full_middle_block_elsewhere():
    """13 residuals (SD 1.x/2.x) and SDXL's 10 get the extension's numbers; another count (the built-in ControlNet
    has 5) decays back from a middle block at full weight instead of starting at 0.825^12."""
    sd1, sdxl, five = (control_scales(2.0, k, True) for k in (13, 10, 5))
    assert sd1 == [2.0 * 0.825 ** (12 - i) for i in range(13)]
    assert sdxl == sd1[:10]
    assert five == [2.0 * 0.825 ** (4 - i) for i in range(5)] and five[-1] == 2.0
