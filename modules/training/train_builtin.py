"""Train Easel's built-in model from scratch on the CPU: `python -m modules.training.train_builtin all`.

Phases (each resumable: re-run the same command and it continues from the last checkpoint in the run folder):
  vae      the whole VAE on 32×32 crops                         (--vae-minutes)
  latents  encode the training pictures once with the frozen encoder
  unet     UNet + text encoder on the cached latents, v-prediction (--unet-minutes), evaluated on held-out prompts
  decoder  the decoder alone on whole pictures and frozen latents (--decoder-minutes, run beside `unet`)
  inpaint  the inpainting variant: the UNet fine-tuned with 9 input channels on random masks (--inpaint-minutes)
  export   the single-file checkpoint + yaml into models/Stable-diffusion/ (and the inpainting variant's, if trained)
`all` runs vae, latents, then unet and decoder side by side (two processes of one thread each), then export.
The architecture (`--arch`, see configs.ARCHITECTURES) is written to the run folder by its first phase; later phases
and resumes read it from there. A folder from before the table existed holds the "f8" model.
SIGTERM pauses a phase: it saves after the current step and exits; the same command resumes it.
One thread per process while two run side by side: on a 2-core machine shared with other work, a 2-thread process
spends most of its time waiting at OpenMP barriers for a descheduled thread (measured 12× slower per step under
load). Alone on a quiet machine, two threads give the UNet 1.6× the steps per second, so `all` hands the UNet phase
`--unet-threads` once the decoder is done; keep the machine quiet while it trains.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from modules.paths import INSTALL_DIR

DEFAULT_RUN_DIR = INSTALL_DIR / "training-runs" / "builtin"
DATA_SEED = 1


def logger(run_dir: Path):
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "train.log"

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        print(line, flush=True)
        with log_path.open("a") as f:
            f.write(line + "\n")
    return log


def run_arch(run_dir: Path, requested: str | None) -> str:
    """The run folder's architecture: recorded by its first phase (`arch.txt`), "f8" for folders older than that."""
    path = run_dir / "arch.txt"
    if path.is_file():
        recorded = path.read_text().strip()
    elif (run_dir / "vae.pt").is_file():
        recorded = "f8"
    else:
        from modules.training.configs import DEFAULT_ARCH

        recorded = requested or DEFAULT_ARCH
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(recorded + "\n")
    if requested and requested != recorded:
        raise SystemExit(f"--arch {requested}: {run_dir} trains {recorded!r}; use another --run-dir")
    return recorded


def _yaml(args, scale_factor: float = 1.0, inpaint: bool = False) -> dict:
    from modules.training.configs import builtin_yaml

    return builtin_yaml(scale_factor, inpaint=inpaint, arch=args.arch)


def phase_vae(args, log) -> None:
    from modules.training.dataset import load_or_render
    from modules.training.train_vae import VaeTrainer, build_vae, reconstruction_mse

    images, scenes = load_or_render(args.run_dir, args.data_count, DATA_SEED)
    held, _ = load_or_render(args.run_dir, 64, DATA_SEED + 1000)
    vae = build_vae(_yaml(args))
    trainer = VaeTrainer(vae, images, scenes, args.run_dir / "vae.pt", batch=32, lr=1e-3, crop=32)
    check = (300.0, lambda: log(f"vae held-out reconstruction mse {reconstruction_mse(vae, held):.5f}"))
    trainer.train(args.vae_minutes * 60, hooks=(check,), log=log, stop_requested=args.stop.is_set)
    log(f"vae done: step {trainer.progress.step}, held-out mse {reconstruction_mse(vae, held):.5f}")


def _tokenizer():
    from modules.conditioning.tokenizer import load_clip_tokenizer

    return load_clip_tokenizer(INSTALL_DIR / "configs")


def _trained_vae(args, with_decoder: bool = True):
    """The VAE of phase 1, with phase 3's decoder when there is one."""
    from modules.training.loop import load_checkpoint
    from modules.training.train_vae import build_vae

    vae = build_vae(_yaml(args))
    for name in ("vae.pt", "decoder.pt") if with_decoder else ("vae.pt",):
        state = load_checkpoint(args.run_dir / name)
        if state is not None:
            vae.load_state_dict(state["model"])
    return vae.eval()


def phase_latents(args, log) -> None:
    from modules.training.dataset import load_or_render
    from modules.training.train_vae import encode_all

    images, _ = load_or_render(args.run_dir, args.data_count, DATA_SEED)
    mean, std = encode_all(_trained_vae(args, with_decoder=False), images[:args.latent_count])
    sample = mean.float() + std.float() * torch.randn(mean.shape, generator=torch.Generator().manual_seed(0))
    scale = float(1 / sample.std())
    torch.save({"mean": mean, "std": std, "scale": scale}, args.run_dir / "latents.pt")
    log(f"latents: {tuple(mean.shape)} scale_factor {scale:.4f}")


def _latents(args):
    from modules.training.dataset import load_or_render

    cached = torch.load(args.run_dir / "latents.pt")
    images, scenes = load_or_render(args.run_dir, args.data_count, DATA_SEED)
    n = len(cached["mean"])
    return cached, images[:n], scenes[:n]


def phase_decoder(args, log) -> None:
    from modules.training.train_vae import VaeTrainer

    cached, images, scenes = _latents(args)
    trainer = VaeTrainer(_trained_vae(args, with_decoder=False), images, scenes, args.run_dir / "decoder.pt",
                         decoder_only=True, latents=(cached["mean"], cached["std"]), batch=12, lr=3e-4, seed=1)
    trainer.train(decoder_minutes(args) * 60, log=log, stop_requested=args.stop.is_set)
    log(f"decoder done: step {trainer.progress.step}")


def _evaluation(trainer, args, log):
    from modules.training.evaluate import Networks, confusion, format_confusion, held_out_readings, score

    def run() -> None:
        vocab = trainer.vocab
        net = Networks(trainer.ema_unet, trainer.ema_text, _trained_vae(args),
                       lambda caps: vocab.compact(vocab.full_chunks(caps)), trainer.abar, trainer.scale)
        start = time.monotonic()
        readings, scenes = held_out_readings(net, count=args.eval_count)
        log(f"held-out accuracy at step {trainer.progress.step}: " +
            " ".join(f"{k} {v:.0%}" for k, v in score(readings, scenes).items()) +
            f" ({time.monotonic() - start:.0f}s)")
        log("  position asked → read: " + " | ".join(format_confusion(confusion(readings, scenes, "position"))))
    return run


def decoder_minutes(args) -> float:
    """The decoder phase's budget: --decoder-minutes, else as long as the UNet phase it runs beside."""
    return args.unet_minutes if args.decoder_minutes is None else args.decoder_minutes


def default_timestep_shift(config: dict) -> tuple[float, ...]:
    """The shifts the UNet trains with once `--shift-from` of its budget is spent (see train_unet.shifted_timesteps).

    s = (latent side / 8)²: the cells of a picture relative to the 8×8 latents of the f8 model, which learned position
    words with uniform timesteps. For larger latents each batch is split between s and 2s: f4 with s = 4 alone learned
    its position words one at a time (64 % at the end of the budget), with 8 alone all five but its shapes stalled
    (60 %), with half of each batch at either both (bench: shape 96 %, position 100 %).

    >>> from modules.training.configs import builtin_yaml
    >>> default_timestep_shift(builtin_yaml(arch="f8")), default_timestep_shift(builtin_yaml(arch="f4"))
    ((1.0,), (4.0, 8.0))
    """
    shift = (config["model"]["params"]["image_size"] / 8) ** 2
    return (shift,) if shift == 1 else (shift, 2 * shift)


def phase_unet(args, log, hooks=()) -> None:
    from modules.training.configs import latent_factor
    from modules.training.train_unet import UnetTrainer, latent_shape_cells
    from modules.training.vocab import CompactVocab

    cached, images, scenes = _latents(args)
    config = _yaml(args, cached["scale"])
    if args.timestep_shift is None:
        args.timestep_shift = default_timestep_shift(config)
    cells = latent_shape_cells(images, scenes, latent_factor(config)) if args.shape_weight != 1.0 else None
    log(f"unet recipe: arch {args.arch}, peak lr {args.lr:g}, shape weight {args.shape_weight:g}, "
        f"min-SNR gamma {args.min_snr_gamma:g}, timestep shift {shifts_text(args.timestep_shift)} from "
        f"{args.shift_from:.0%} of the budget, batch 32")
    trainer = UnetTrainer(config, CompactVocab(_tokenizer()), (cached["mean"], cached["std"]),
                          cached["scale"], scenes, args.run_dir / "unet.pt", lr=args.lr, shape_cells=cells,
                          shape_weight=args.shape_weight, min_snr_gamma=args.min_snr_gamma,
                          timestep_shift=args.timestep_shift, shift_from=args.shift_from)
    evaluate = _evaluation(trainer, args, log)
    trainer.train(args.unet_minutes * 60, hooks=((args.eval_minutes * 60, evaluate), *hooks), log=log,
                  stop_requested=args.stop.is_set)
    if not args.stop.is_set():
        evaluate()


def phase_inpaint(args, log) -> None:
    from modules.training.configs import latent_factor
    from modules.training.loop import load_checkpoint
    from modules.training.train_inpaint import InpaintTrainer
    from modules.training.train_unet import latent_shape_cells
    from modules.training.vocab import CompactVocab

    base = load_checkpoint(args.run_dir / "unet.pt")
    if base is None:
        raise SystemExit(f"{args.run_dir}: no unet.pt to fine-tune; run the unet phase first")
    cached, images, scenes = _latents(args)
    config = _yaml(args, cached["scale"], inpaint=True)
    cells = latent_shape_cells(images, scenes, latent_factor(config)) if args.shape_weight != 1.0 else None
    shifts = args.timestep_shift or default_timestep_shift(config)
    log(f"inpaint recipe: from unet step {base['progress']['step']}, peak lr {args.inpaint_lr:g}, timestep shift "
        f"{shifts_text(shifts)}, shape weight {args.shape_weight:g}, batch 32")
    trainer = InpaintTrainer(config, CompactVocab(_tokenizer()), (cached["mean"], cached["std"]), cached["scale"],
                             scenes, args.run_dir / "inpaint.pt", images=images, vae=_trained_vae(args), base=base,
                             lr=args.inpaint_lr, shape_cells=cells, shape_weight=args.shape_weight,
                             timestep_shift=shifts)
    trainer.train(args.inpaint_minutes * 60, log=log, stop_requested=args.stop.is_set)
    log(f"inpaint: step {trainer.progress.step}")


def phase_export(args, log) -> None:
    from modules.training.export import BUILTIN_NAME, INPAINTING_SUFFIX

    _export_one(args, log, "unet.pt", BUILTIN_NAME, inpaint=False)
    if (args.run_dir / "inpaint.pt").is_file():
        _export_one(args, log, "inpaint.pt", BUILTIN_NAME + INPAINTING_SUFFIX, inpaint=True)


def _export_one(args, log, checkpoint: str, name: str, inpaint: bool) -> None:
    from modules.training.export import full_text_encoder, ldm_state, write_checkpoint
    from modules.training.loop import load_checkpoint
    from modules.training.train_unet import build_text_encoder, build_unet
    from modules.training.vocab import CompactVocab

    cached = torch.load(args.run_dir / "latents.pt")
    config = _yaml(args, cached["scale"], inpaint=inpaint)
    vocab = CompactVocab(_tokenizer())
    state = load_checkpoint(args.run_dir / checkpoint)
    if state is None:
        raise SystemExit(f"{args.run_dir}: no {checkpoint} to export; train first")
    unet, text = build_unet(config), build_text_encoder(config, vocab.size)
    unet.load_state_dict(state["ema_unet"])
    text.load_state_dict(state["ema_text"])
    full = ldm_state(unet, _trained_vae(args), full_text_encoder(text, vocab, config), config)
    meta = {"easel_training_steps": str(state["progress"]["step"]),
            "easel_training_seconds": str(round(state["progress"]["elapsed"]))}
    path = write_checkpoint(args.out_dir, full, config, name=name, metadata=meta)
    log(f"exported {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def decoder_command(args) -> list[str]:
    """The `decoder` phase as its own process (`all` runs it beside the UNet phase, one thread each)."""
    return [sys.executable, "-m", "modules.training.train_builtin", "decoder", "--run-dir", str(args.run_dir),
            "--decoder-minutes", str(decoder_minutes(args)), "--threads", str(args.threads),
            "--data-count", str(args.data_count), "--latent-count", str(args.latent_count)]


def more_threads_when_done(process: subprocess.Popen, threads: int, log):
    """A training hook: once `process` (the decoder beside the UNet) has exited, this process takes `threads`."""
    state = {"switched": False}

    def check() -> None:
        if not state["switched"] and process.poll() is not None:
            torch.set_num_threads(threads)
            state["switched"] = True
            log(f"the decoder is done: the unet phase goes on with {threads} threads")
    return check


def phase_all(args, log) -> None:
    phase_vae(args, log)
    if args.stop.is_set():
        return
    if not (args.run_dir / "latents.pt").is_file():
        phase_latents(args, log)
    decoder = subprocess.Popen(decoder_command(args))
    phase_unet(args, log, hooks=((30.0, more_threads_when_done(decoder, args.unet_threads, log)),))
    if args.stop.is_set():
        decoder.send_signal(signal.SIGTERM)
    decoder.wait()
    if not args.stop.is_set():
        phase_export(args, log)


def shift_list(text: str) -> tuple[float, ...]:
    """`--timestep-shift` "4" or "4,8": one shift, or several that split each batch.

    >>> shift_list("4"), shift_list("4, 8")
    ((4.0,), (4.0, 8.0))
    """
    try:
        shifts = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers ≥ 1 separated by commas, "
                                         "like 4 or 4,8") from None
    if any(s < 1 for s in shifts):
        raise argparse.ArgumentTypeError(f"{text!r}: a shift below 1 would train at less noise; use 1 for uniform")
    return shifts


def shifts_text(shifts: tuple[float, ...]) -> str:
    """How the logs write the shifts: "4+8"."""
    return "+".join(f"{s:g}" for s in shifts)


def build_parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the shipped model's recipe (the model card lists the exact runs)."""
    parser = argparse.ArgumentParser(prog="python -m modules.training.train_builtin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["vae", "latents", "unet", "decoder", "inpaint", "export", "all"])
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    parser.add_argument("--arch", default=None, help="architecture of a new run (configs.ARCHITECTURES; default "
                        "f4); a run folder keeps the one it started with")
    parser.add_argument("--vae-minutes", type=float, default=20)
    parser.add_argument("--unet-minutes", type=float, default=150)
    parser.add_argument("--inpaint-minutes", type=float, default=30, help="budget of the inpaint phase")
    parser.add_argument("--inpaint-lr", type=float, default=3e-4, help="peak learning rate of the inpaint phase")
    parser.add_argument("--data-count", type=int, default=20000, help="pictures rendered for training")
    parser.add_argument("--latent-count", type=int, default=8000, help="of those, encoded for the UNet phase")
    parser.add_argument("--eval-minutes", type=float, default=15)
    parser.add_argument("--eval-count", type=int, default=48, help="held-out prompts per evaluation")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the unet phase")
    parser.add_argument("--shape-weight", type=float, default=3.0,
                        help="unet loss weight of the latent cells that hold the shape (1: unweighted)")
    parser.add_argument("--min-snr-gamma", type=float, default=0.0,
                        help="Min-SNR-γ timestep weighting of the unet loss (0: off; the paper uses 5)")
    parser.add_argument("--timestep-shift", type=shift_list, default=None,
                        help="train the unet at timesteps whose SNR is divided by this (see "
                             "train_unet.shifted_timesteps); several, comma-separated, split each batch among them "
                             "(default: 1 for f8; 4,8 for f4's 16×16 latents, see default_timestep_shift)")
    parser.add_argument("--shift-from", type=float, default=0.65,
                        help="fraction of the unet budget trained with uniform timesteps before the shift starts "
                             "(they learn colour, background and shape faster; the shift then teaches position)")
    parser.add_argument("--decoder-minutes", type=float, default=None,
                        help="budget of the decoder phase (default: --unet-minutes, beside which `all` runs it)")
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--unet-threads", type=int, default=2,
                        help="`all`: threads of the unet phase once the decoder beside it is done")
    parser.add_argument("--out-dir", type=Path, default=INSTALL_DIR / "models" / "Stable-diffusion")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    log = logger(args.run_dir)
    args.arch = run_arch(args.run_dir, args.arch)
    args.stop = threading.Event()  # SIGTERM: save and stop after the current step (a pause that loses nothing)
    signal.signal(signal.SIGTERM, lambda *_: args.stop.set())
    log(f"phase {args.phase} ({' '.join(argv or sys.argv[1:])})")
    PHASES[args.phase](args, log)
    return 0


PHASES = {"vae": phase_vae, "latents": phase_latents, "unet": phase_unet, "decoder": phase_decoder,
          "inpaint": phase_inpaint, "export": phase_export, "all": phase_all}

if __name__ == "__main__":
    sys.exit(main())
