"""The training loop on tiny networks: losses fall, checkpoints resume where they stopped, v-targets are right."""
from __future__ import annotations

import math

import pytest
import torch

from modules.training.configs import builtin_yaml
from modules.training.loop import Progress, run_for
from modules.training.train_builtin import run_arch
from modules.training.train_unet import UnetTrainer, latent_shape_cells, v_target
from modules.training.train_vae import VaeTrainer, build_vae, encode_all
from tests.training.tiny import tiny_builtin_yaml


def assert_unet_trains(path, scenes, vocab, **options) -> None:
    """20 steps of a tiny UnetTrainer with `options` on random latents: finite losses that fall."""
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    trainer = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, scenes, path, batch=8, lr=2e-3, **options)
    losses = [trainer.step(0.5)["loss"] for _ in range(20)]
    assert all(map(math.isfinite, losses)) and sum(losses[-4:]) < sum(losses[:4])


def test_v_target_is_the_velocity_of_salimans_and_ho():
    x0, noise = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    abar = torch.tensor([0.9, 0.5, 0.01])
    x_t, v = v_target(x0, noise, abar)
    a, s = abar.sqrt()[:, None, None, None], (1 - abar).sqrt()[:, None, None, None]
    torch.testing.assert_close(a * x_t - s * v, x0)  # x0 = √ᾱ x_t − √(1−ᾱ) v
    torch.testing.assert_close(s * x_t + a * v, noise)


def test_run_for_spends_the_budget_and_saves(tmp_path):
    saves, calls = [], []
    progress = run_for(0.05, Progress(), lambda f: calls.append(f) or {"loss": 1.0}, lambda: saves.append(1))
    assert progress.step == len(calls) >= 1 and progress.elapsed >= 0.05 and saves
    assert calls[0] == 0.0 and all(0 <= f < 1 for f in calls)
    again = run_for(0.05, progress, lambda f: calls.append(f) or {}, lambda: None)
    assert again.step == len(calls)  # budget already spent: no more steps


def test_vae_learns_and_resumes(tmp_path, data):
    images, scenes = data
    path = tmp_path / "vae.pt"
    trainer = VaeTrainer(build_vae(tiny_builtin_yaml()), images, scenes, path, batch=4, lr=2e-3, bf16=False)
    first = [trainer.step(0.5)["rec"] for _ in range(3)]
    later = [trainer.step(0.5)["rec"] for _ in range(25)]
    assert sum(later[-3:]) < sum(first)
    trainer.progress.step = 28
    trainer.save()
    resumed = VaeTrainer(build_vae(tiny_builtin_yaml(), seed=5), images, scenes, path, batch=4, bf16=False)
    assert resumed.progress.step == 28
    for a, b in zip(resumed.vae.parameters(), trainer.vae.parameters()):
        assert torch.equal(a, b)
    mean, std = encode_all(resumed.vae, images)
    assert mean.shape == std.shape == (16, 4, 8, 8)


def test_decoder_phase_leaves_the_encoder_alone(tmp_path, data):
    images, scenes = data
    vae = build_vae(tiny_builtin_yaml())
    encoder_before = [p.clone() for p in vae.encoder.parameters()]
    latents = encode_all(vae, images)
    trainer = VaeTrainer(vae, images, scenes, tmp_path / "dec.pt", decoder_only=True, latents=latents, batch=4,
                         bf16=False)
    decoder_before = [p.clone() for p in vae.decoder.parameters()]
    trainer.step(0.5)
    assert all(torch.equal(a, b) for a, b in zip(encoder_before, vae.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(decoder_before, vae.decoder.parameters()))


def test_unet_and_text_encoder_learn_and_resume(tmp_path, data, vocab):
    _, scenes = data
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    path = tmp_path / "unet.pt"
    trainer = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, scenes, path, batch=8, lr=2e-3, bf16=False)
    ids, x0 = trainer.batch_inputs()
    assert ids.shape == (8, 77) and int(ids.max()) < vocab.size and x0.shape == (8, 4, 8, 8)
    losses = [trainer.step(0.5)["loss"] for _ in range(30)]
    assert sum(losses[-5:]) < sum(losses[:5])
    trainer.progress.step = 30
    trainer.save()
    resumed = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, scenes, path, batch=8, bf16=False, seed=9)
    assert resumed.progress.step == 30
    assert torch.equal(resumed.batch_inputs()[0], trainer.batch_inputs()[0])  # same data stream after resuming
    live, ema = dict(trainer.unet.named_parameters()), dict(trainer.ema_unet.named_parameters())
    assert any(not torch.equal(live[k], ema[k]) for k in live)


def test_latent_shape_cells_cover_the_shape_and_only_near_it():
    from modules.training.render import render_many
    from modules.training.scenes import Scene

    scenes = [Scene("red", "square", "blue", "left", "small", 0.25, 0.5, 0.12),
              Scene("red", "circle", "white", "centre", "large", 0.5, 0.5, 0.22)]
    cells = latent_shape_cells(render_many(scenes), scenes)  # [2, 1, 8, 8]
    assert cells.shape == (2, 1, 8, 8) and cells.dtype == torch.bool
    assert cells[0, 0, 4, 2] and not cells[0, 0, 4, 6]  # the square sits at the left, not at the right
    assert cells[1, 0, 4, 4] and not cells[1, 0, 0, 0]
    assert 4 <= int(cells[0].sum()) < int(cells[1].sum()) <= 36


def test_shape_weighted_unet_loss_trains(tmp_path, data, vocab):
    images, scenes = data
    assert_unet_trains(tmp_path / "u.pt", scenes, vocab, shape_cells=latent_shape_cells(images, scenes),
                       shape_weight=3.0)
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    with pytest.raises(ValueError, match="shape cells"):
        UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, scenes, tmp_path / "v.pt", shape_weight=3.0)


def test_latent_shape_cells_follow_the_latent_factor(data):
    images, scenes = data
    f8, f4 = latent_shape_cells(images, scenes, 8), latent_shape_cells(images, scenes, 4)
    assert f8.shape == (len(images), 1, 8, 8) and f4.shape == (len(images), 1, 16, 16)
    assert torch.equal(torch.nn.functional.max_pool2d(f4.float(), 2) > 0, f8)  # same shapes, finer cells


def test_run_folder_keeps_the_architecture_it_started_with(tmp_path):
    fresh = tmp_path / "fresh"
    assert run_arch(fresh, None) == "f4" and (fresh / "arch.txt").read_text().strip() == "f4"
    assert run_arch(fresh, None) == "f4" and run_arch(fresh, "f4") == "f4"
    with pytest.raises(SystemExit, match="trains 'f4'"):
        run_arch(fresh, "f8")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "vae.pt").write_bytes(b"")
    assert run_arch(legacy, None) == "f8"  # a folder from before the table: the first shipped architecture
    with pytest.raises(ValueError, match="known: f8, f4"):
        builtin_yaml(arch="f16")


def test_run_for_stops_early_when_asked_and_saves(tmp_path):
    saved, logged, steps = [], [], []
    progress = run_for(60.0, Progress(), lambda fraction: steps.append(fraction) or {}, lambda: saved.append(1),
                       log=logged.append, stop_requested=lambda: len(steps) >= 3)
    assert progress.step == 3 and saved == [1] and progress.elapsed < 60.0
    assert any("paused at step 3" in line for line in logged)


def test_min_snr_weighting_trains_and_favours_mid_noise(tmp_path, data, vocab):
    from modules.training.train_unet import min_snr_weight, schedule

    abar = schedule(tiny_builtin_yaml())  # [T]
    weight = min_snr_weight(abar, 5.0)
    mid = int((abar - 0.5).abs().argmin())
    assert weight[mid] > weight[-1] * 50 and weight[mid] > weight[0] * 5  # pure noise and near-clean count less
    assert_unet_trains(tmp_path / "u.pt", data[1], vocab, min_snr_gamma=5.0)


def test_timestep_shift_trains_at_noisier_steps_by_the_given_snr_factor(tmp_path, data, vocab):
    from modules.training.train_unet import schedule, shifted_timesteps

    abar = schedule(tiny_builtin_yaml())  # [T]
    snr = abar / (1 - abar)
    u = torch.arange(100, 900, 50)
    t = shifted_timesteps(u, abar, 4.0)
    assert (t > u).all()
    inside = t < len(abar) - 1  # those not clamped at the last step land where the SNR is a quarter
    assert torch.allclose(snr[t][inside].log(), (snr[u][inside] / 4).log(), atol=0.05)
    assert_unet_trains(tmp_path / "u.pt", data[1], vocab, timestep_shift=4.0)


def test_all_runs_the_decoder_beside_the_unet_with_its_own_budget():
    from modules.training.train_builtin import build_parser, decoder_command, decoder_minutes

    args = build_parser().parse_args(["all", "--unet-minutes", "150", "--decoder-minutes", "15"])
    command = decoder_command(args)
    decoder = build_parser().parse_args(command[command.index("decoder"):])
    assert decoder.phase == "decoder" and decoder_minutes(decoder) == 15 and decoder.run_dir == args.run_dir
    assert decoder_minutes(build_parser().parse_args(["all", "--unet-minutes", "150"])) == 150


def test_all_gives_the_unet_both_cores_once_the_decoder_is_done(monkeypatch):
    from modules.training import train_builtin

    class Decoder:
        code = None

        def poll(self):
            return self.code

    threads, logged, decoder = [], [], Decoder()
    monkeypatch.setattr(train_builtin.torch, "set_num_threads", threads.append)
    check = train_builtin.more_threads_when_done(decoder, 2, logged.append)
    check()
    assert threads == []  # the decoder still has the other core
    decoder.code = 0
    check()
    check()
    assert threads == [2] and len(logged) == 1 and "2 threads" in logged[0]
    assert train_builtin.build_parser().parse_args(["all"]).unet_threads == 2


def test_timestep_shift_starts_at_its_fraction_of_the_budget(tmp_path, data, vocab, monkeypatch):
    from modules.training import train_unet

    seen = []
    real = train_unet.shifted_timesteps
    monkeypatch.setattr(train_unet, "shifted_timesteps",
                        lambda u, abar, shift: seen.append(shift) or real(u, abar, shift))
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    trainer = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, data[1], tmp_path / "u.pt", batch=4,
                          timestep_shift=4.0, shift_from=0.5)
    trainer.step(0.2)
    assert seen == []  # uniform timesteps before half the budget
    trainer.step(0.6)
    assert seen == [4.0]


def test_a_batch_split_between_shifts_trains_half_at_each(tmp_path, data, vocab, monkeypatch):
    from modules.training import train_unet

    seen = []
    real = train_unet.shifted_timesteps
    monkeypatch.setattr(train_unet, "shifted_timesteps",
                        lambda u, abar, shift: seen.append((shift, len(u))) or real(u, abar, shift))
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    trainer = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, data[1], tmp_path / "u.pt", batch=4,
                          timestep_shift=(4.0, 8.0), shift_from=0.0)
    trainer.step(0.1)
    assert seen == [(4.0, 2), (8.0, 2)]
    abar = train_unet.schedule(tiny_builtin_yaml())  # [T]
    u = torch.arange(100, 900, 100)
    t = train_unet.mixed_shift_timesteps(u, abar, (4.0, 8.0))
    assert torch.equal(t[0::2], real(u[0::2], abar, 4.0)) and torch.equal(t[1::2], real(u[1::2], abar, 8.0))


def test_timestep_shift_option_takes_one_or_several_shifts_and_names_bad_ones(capsys):
    from modules.training.train_builtin import build_parser

    parse = build_parser().parse_args
    assert parse(["unet", "--timestep-shift", "4"]).timestep_shift == (4.0,)
    assert parse(["unet", "--timestep-shift", "4,8"]).timestep_shift == (4.0, 8.0)
    assert parse(["unet"]).timestep_shift is None  # (latent side / 8)² of the run's architecture
    for bad in ("4,x", "0.5"):
        with pytest.raises(SystemExit):
            parse(["unet", "--timestep-shift", bad])
        assert "--timestep-shift" in capsys.readouterr().err


def test_held_out_readings_feed_accuracy_and_the_position_confusion(tmp_path, data, vocab):
    from modules.training.evaluate import (Networks, confusion, format_confusion, held_out_accuracy,
                                           held_out_readings, score)

    _, scenes = data
    latents = (torch.randn(16, 4, 8, 8).half(), torch.full((16, 4, 8, 8), 0.05).half())
    trainer = UnetTrainer(tiny_builtin_yaml(), vocab, latents, 1.0, scenes, tmp_path / "unet.pt", batch=8)
    net = Networks(trainer.ema_unet, trainer.ema_text, build_vae(tiny_builtin_yaml()).eval(),
                   lambda caps: vocab.compact(vocab.full_chunks(caps)), trainer.abar, 1.0)
    readings, asked = held_out_readings(net, count=5, batch=3)
    assert len(readings) == len(asked) == 5
    assert held_out_accuracy(net, count=5, batch=3) == score(readings, asked)  # same seeds, same pictures
    table = confusion(readings, asked, "position")
    assert sum(sum(row.values()) for row in table.values()) == 5 and set(table) == {s.position for s in asked}
    assert len(format_confusion(table)) == len(table)
