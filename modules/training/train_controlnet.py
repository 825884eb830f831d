"""Train the built-in model's ControlNet: the shape's outline or scribble says where the shape goes and what it is.

As the ControlNet paper builds one (Zhang et al. 2023, §3): a trainable copy of the frozen UNet's encoder and middle
block, its outputs added to the UNet's skip connections through zero-initialised 1×1 convolutions, and a small hint
encoder for the control image. The built-in VAE shrinks by 4 (not SD's 8), so the hint encoder has two stride-2
convolutions (widths 16, 32, 96) instead of three: a 64×64 control image meets 16×16 latents. The UNet, text
encoder and VAE stay frozen; captions name only colours (`controlnet_data.py`), so shape type and position must come
from the control. Loss: MSE on v, latent cells holding the shape weighted ×3, as the UNet was trained
(`train_unet.py`). Three phases (`PHASES`): 50 minutes with timesteps split between uniform and shifted by 4; 600
steps on what tells the shapes apart: uniform timesteps, the cells where the shape differs from another shape in
its box weighted ×8 (`controlnet_loss.py`), squares and stars drawn 1.5× as often, more exact outlines than
scribbles; 600 steps more where a row with an empty caption learns the frozen UNet's own prediction, so that the
ControlNet leaves the unconditional side of classifier-free guidance alone (`unsteered_where_empty`).

    python -m modules.training.train_controlnet            # train or resume each phase (checkpoint every 3 min)
    python -m modules.training.train_controlnet --export   # write models/ControlNet/easel-builtin-outline/
    python -m modules.training.train_controlnet --evaluate 200   # the last phase on 200 held-out scenes
"""
from __future__ import annotations

import argparse
import random
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml
from diffusers import ControlNetModel, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel

from modules.models.probes import CLIP_L_PREFIX
from modules.training import controlnet_data as cdata
from modules.training.controlnet_loss import cell_weights, distinctive_cells, sampling_weights
from modules.training.dataset import make_scenes, to_unit
from modules.training.render import render_many
from modules.training.evaluate import Networks, confusion, format_confusion, generate, score
from modules.training.analyzer import analyze
from modules.training.loop import Progress, load_checkpoint, lr_factor, run_for, save_atomic
from modules.training.scenes import held_out_scenes
from modules.training.train_unet import latent_shape_cells, mixed_shift_timesteps, schedule, v_target, weighted_mse

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "Stable-diffusion" / "easel-builtin.safetensors"
RUN_DIR = ROOT / "training-runs" / "controlnet-builtin"
EXPORT_DIR = ROOT / "models" / "ControlNet" / "easel-builtin-outline"
HINT_WIDTHS = (16, 32, 96)  # two stride-2 convolutions: 64×64 control → 16×16 latents
DATA_SEED, DATA_COUNT = 21, 4000


@dataclass(frozen=True)
class Recipe:
    """What a training phase varies; the defaults are the first phase's."""

    batch: int = 16
    lr: float = 5e-4
    shape_weight: float = 3.0  # loss weight of latent cells holding the shape
    telling_weight: float = 1.0  # ... of cells where the shape differs from another shape in its box
    shape_mix: tuple[tuple[str, float], ...] = ()  # (shape, how much more often it is drawn)
    shifts: tuple[float, ...] = (1.0, 4.0)  # timestep shift per part of the batch (`mixed_shift_timesteps`)
    outline_share: float = 0.5  # exact outlines among the control images; the rest scribbles
    init_from: Path | None = None  # an earlier phase's checkpoint to start from
    quiet_when_empty: bool = False  # empty-caption rows learn the frozen UNet's own prediction (no steering)


@dataclass(frozen=True)
class Phase:
    name: str
    run_dir: Path
    minutes: float  # step time of the phase (its cosine learning-rate schedule spans it)
    recipe: Recipe
    steps: int = 0  # > 0: the phase is this many steps instead (the schedule spans them), `minutes` a ceiling

    def done(self, progress: dict) -> bool:
        return progress["elapsed"] >= self.minutes * 60 or 0 < self.steps <= progress["step"]


# 50 min learn place and rough shape, then 600 steps (8-10 min of an idle core) on what tells the shapes apart:
# after the first phase the ControlNet pushed too weakly at corners to beat the colour-only prompt, whose frozen
# UNet draws circles (`models/ControlNet/easel-builtin-outline.md`, Measured). The second phase counts steps, not
# time, so that a machine busy with other jobs does not shorten it. The third: steered on both rows of classifier-free
# guidance, the ControlNet's push at the corners was mostly subtracted again with the unconditional row (steering
# the conditional rows only read 99 %; the card's "What else was tried"), so empty captions now teach it to leave
# a row alone. The price: with an empty prompt the unit does not steer.
CORNERS = Recipe(telling_weight=8.0, shape_mix=(("square", 1.5), ("star", 1.5)), shifts=(1.0,), outline_share=0.65,
                 init_from=RUN_DIR / "controlnet.pt")
PHASES = (
    Phase("outline", RUN_DIR, 50.0, Recipe()),
    Phase("corners", RUN_DIR.with_name("controlnet-builtin-phase2"), 40.0, CORNERS, steps=600),
    Phase("quiet", RUN_DIR.with_name("controlnet-builtin-quiet"), 40.0,
          replace(CORNERS, init_from=RUN_DIR.with_name("controlnet-builtin-phase2") / "controlnet.pt",
                  quiet_when_empty=True, lr=2e-4), steps=600),
)


def load_frozen(checkpoint: Path = CHECKPOINT):
    """(UNet, text encoder, VAE, latent scale, yaml) of the built-in checkpoint, frozen, in float32."""
    from modules.training.train_taesd import load_builtin_vae

    config = yaml.safe_load(checkpoint.with_suffix(".yaml").read_text())
    state = load_file(str(checkpoint))
    unet_config = sfu.create_unet_diffusers_config_from_ldm(config, {})
    unet = UNet2DConditionModel(**unet_config)
    unet.load_state_dict(sfu.convert_ldm_unet_checkpoint(state, unet_config))
    text_fields = config["model"]["params"]["cond_stage_config"]["params"]["text_config"]
    text = CLIPTextModel(CLIPTextConfig(**text_fields))
    clip = {k: v.float() for k, v in state.items() if k.startswith(CLIP_L_PREFIX) and not k.endswith("position_ids")}
    converted = sfu.convert_ldm_clip_checkpoint(clip, remove_prefix=CLIP_L_PREFIX)
    flat = {k.removeprefix("text_model."): v for k, v in converted.items()}
    missing, unexpected = text.load_state_dict(flat, strict=False)
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        raise RuntimeError(f"text encoder keys do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
    vae, scale = load_builtin_vae(checkpoint)
    for net in (unet, text, vae):
        net.float().eval().requires_grad_(False)
    return unet, text, vae, scale, config


def new_controlnet(unet: UNet2DConditionModel) -> ControlNetModel:
    """The UNet's encoder copied, zero convolutions at zero, and a hint encoder that downsamples by 4."""
    torch.manual_seed(0)
    return ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=HINT_WIDTHS)


class Controlled(torch.nn.Module):
    """The frozen UNet steered by a ControlNet with one hint per picture (the batch repeats the hints for
    classifier-free guidance); called as the UNet is by `modules/training/evaluate.py`."""

    def __init__(self, unet, controlnet, hint: torch.Tensor):
        super().__init__()
        self.unet, self.controlnet, self.hint = unet, controlnet, hint  # hint [N, 3, 64, 64]

    def forward(self, x, t, encoder_hidden_states):
        hint = self.hint.repeat(x.shape[0] // self.hint.shape[0], 1, 1, 1)  # [B, 3, 64, 64]
        down, mid = self.controlnet(x, t, encoder_hidden_states=encoder_hidden_states, controlnet_cond=hint,
                                    return_dict=False)
        return self.unet(x, t, encoder_hidden_states=encoder_hidden_states, down_block_additional_residuals=down,
                         mid_block_additional_residual=mid)


class ControlNetTrainer:
    """Trains a ControlNet against the frozen built-in model; checkpoint at `run_dir/controlnet.pt`."""

    def __init__(self, run_dir: Path = RUN_DIR, recipe: Recipe | None = None, count: int = DATA_COUNT):
        from modules.training.train_builtin import _tokenizer
        from modules.training.vocab import CompactVocab

        self.path = Path(run_dir) / "controlnet.pt"
        self.recipe = recipe = recipe or Recipe()
        self.batch, self.lr = recipe.batch, recipe.lr
        self.unet, self.text, self.vae, self.scale, self.config = load_frozen()
        self.vocab = CompactVocab(_tokenizer())
        self.abar = schedule(self.config)
        self.scenes = make_scenes(count, DATA_SEED)
        images = render_many(self.scenes)  # [N, 3, 64, 64] uint8
        self.mean, self.std = self._encode(images)
        self.weights = cell_weights(latent_shape_cells(images, self.scenes, factor=4),  # [N, 1, 16, 16]
                                    distinctive_cells(self.scenes), recipe.shape_weight, recipe.telling_weight)
        self.draw = sampling_weights(self.scenes, dict(recipe.shape_mix))  # [N]
        self.net = new_controlnet(self.unet)
        self.net.train()
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=recipe.lr, weight_decay=0.01)
        self.gen = torch.Generator().manual_seed(0)
        self.rng = random.Random(0)
        self.progress = Progress()
        self._contexts: dict[str, torch.Tensor] = {}
        state = load_checkpoint(self.path)
        if state is None and recipe.init_from is not None:  # a later phase starts from an earlier one's weights
            start = load_checkpoint(recipe.init_from)
            if start is None:
                raise SystemExit(f"{self.path.parent}: starts from {recipe.init_from}, which does not exist")
            self.net.load_state_dict(start["net"])
        if state is not None:
            self.net.load_state_dict(state["net"])
            self.opt.load_state_dict(state["opt"])
            self.gen.set_state(state["gen"])
            self.rng.setstate(state["rng"])
            self.progress = Progress(**state["progress"])

    @torch.no_grad()
    def _encode(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        means, stds = [], []
        for chunk in to_unit(images).split(256):
            dist = self.vae.encode(chunk).latent_dist
            means.append(dist.mean)
            stds.append(dist.std)  # [b, 4, 16, 16]
        return torch.cat(means), torch.cat(stds)

    @torch.no_grad()
    def context(self, captions: list[str]) -> torch.Tensor:
        """Text encoder outputs [B, 77, C], cached per caption (the encoder is frozen)."""
        todo = [c for c in dict.fromkeys(captions) if c not in self._contexts]
        if todo:
            out = self.text(input_ids=self.vocab.full_chunks(todo)).last_hidden_state  # [n, 77, C]
            self._contexts.update(zip(todo, out))
        return torch.stack([self._contexts[c] for c in captions])

    def save(self) -> None:
        save_atomic({"net": self.net.state_dict(), "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                     "rng": self.rng.getstate(), "progress": vars(self.progress), "recipe": repr(self.recipe)},
                    self.path)

    def step(self, fraction: float) -> dict:
        for group in self.opt.param_groups:
            group["lr"] = self.lr * lr_factor(fraction)
        recipe, n = self.recipe, self.batch
        idx = torch.multinomial(self.draw, n, replacement=True, generator=self.gen)  # [B]
        scenes = [self.scenes[i] for i in idx.tolist()]
        hint = torch.from_numpy(cdata.hints(scenes, "mixed", self.rng.randrange(2 ** 31),
                                            recipe.outline_share))  # [B, 3, 64, 64]
        captions = [cdata.colour_caption(s, self.rng) for s in scenes]
        context = self.context(captions)  # [B, 77, C]
        x0 = (self.mean[idx] + self.std[idx] * torch.randn(self.mean[idx].shape, generator=self.gen)) * self.scale
        u = torch.randint(0, len(self.abar), (n,), generator=self.gen)
        t = mixed_shift_timesteps(u, self.abar, recipe.shifts)  # [B]
        x_t, v = v_target(x0, torch.randn(x0.shape, generator=self.gen), self.abar[t])  # [B, 4, 16, 16]
        pred = Controlled(self.unet, self.net, hint)(x_t, t, context).sample  # [B, 4, 16, 16]
        if recipe.quiet_when_empty:
            v = self.unsteered_where_empty(x_t, t, context, v, captions)
        loss = weighted_mse(pred, v, self.weights[idx])  # weights [B, 1, 16, 16]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def unsteered_where_empty(self, x_t, t, context, v, captions: list[str]) -> torch.Tensor:
        """The v target with the rows of empty captions replaced by the frozen UNet's own prediction."""
        empty = torch.tensor([c == "" for c in captions])  # [B]
        if not empty.any():
            return v
        own = self.unet(x_t[empty], t[empty], encoder_hidden_states=context[empty]).sample  # [b, 4, 16, 16]
        v = v.clone()
        v[empty] = own
        return v


@torch.no_grad()
def held_out_eval(unet, net, text, vae, scale, abar, vocab, count: int = 40, kind: str = "outline",
                  seed: int = 5) -> tuple[dict[str, float], list, list]:
    """Generate `count` held-out scenes (colour-only prompts, the control at the scene's place) and read them:
    (accuracy per attribute, readings, scenes)."""
    scenes = held_out_scenes(count, seed)
    was_training = net.training
    net.eval()
    readings = []
    for start in range(0, count, 20):
        part = scenes[start:start + 20]
        hint = torch.from_numpy(cdata.hints(part, kind, seed + start))  # [n, 3, 64, 64]
        nets = Networks(Controlled(unet, net, hint), text, vae, vocab.full_chunks, abar, scale)
        images = generate(nets, [cdata.bench_caption(s) for s in part], [""] * len(part),
                          [seed * 1000 + start + i for i in range(len(part))])
        readings += [analyze(img) for img in images]
    net.train(was_training)
    return score(readings, scenes), readings, scenes


def train(phase: Phase, eval_minutes: float, log) -> None:
    """Run (or resume) one phase; a phase whose budget is spent is skipped without loading anything."""
    state = load_checkpoint(phase.run_dir / "controlnet.pt")
    if state is not None and phase.done(state["progress"]):
        log(f"phase {phase.name}: done ({state['progress']['step']} steps)")
        return
    if phase.recipe.init_from is not None and not phase.recipe.init_from.is_file():
        raise SystemExit(f"phase {phase.name} starts from {phase.recipe.init_from}, which does not exist")
    minutes = phase.minutes
    phase.run_dir.mkdir(parents=True, exist_ok=True)
    trainer = ControlNetTrainer(phase.run_dir, phase.recipe)
    log(f"phase {phase.name}: {phase.recipe}")
    log(f"controlnet: {sum(p.numel() for p in trainer.net.parameters()) / 1e6:.2f} M parameters, "
        f"resuming at step {trainer.progress.step} ({trainer.progress.elapsed / 60:.1f} of {minutes} min)")

    def evaluate(kinds=("outline",), count: int = 24) -> None:
        start = time.monotonic()
        for kind in kinds:
            acc, readings, scenes = held_out_eval(trainer.unet, trainer.net, trainer.text, trainer.vae,
                                                  trainer.scale, trainer.abar, trainer.vocab, count, kind)
            log(f"held-out {kind} at step {trainer.progress.step}: " +
                " ".join(f"{k} {v:.0%}" for k, v in acc.items()) + f" ({time.monotonic() - start:.0f}s)")
            log("  shape asked → read: " + " | ".join(format_confusion(confusion(readings, scenes, "shape"))))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    step = trainer.step if not phase.steps else lambda _: trainer.step(trainer.progress.step / phase.steps)
    run_for(minutes * 60, trainer.progress, step, trainer.save, hooks=((eval_minutes * 60, evaluate),), log=log,
            desc="controlnet", stop_requested=lambda: stop.is_set() or phase.done(vars(trainer.progress)))
    if phase.done(vars(trainer.progress)):
        evaluate(cdata.CONTROL_KINDS, 40)


def export(folder: Path = EXPORT_DIR, run_dir: Path = PHASES[-1].run_dir) -> Path:
    """The last checkpoint as a diffusers ControlNet folder (config.json + float16 safetensors)."""
    state = load_checkpoint(run_dir / "controlnet.pt")
    if state is None:
        raise SystemExit(f"no run at {run_dir}; train first")
    unet = load_frozen()[0]
    net = new_controlnet(unet)
    net.load_state_dict(state["net"])
    net.half().save_pretrained(str(folder), safe_serialization=True)
    weights = folder / "diffusion_pytorch_model.safetensors"
    weights.chmod(0o644)
    print(f"wrote {folder} ({weights.stat().st_size / 1e6:.2f} MB, step {state['progress']['step']}, "
          f"{state['progress']['elapsed'] / 60:.1f} min)")
    return folder


def evaluate_last(count: int, run_dir: Path = PHASES[-1].run_dir) -> None:
    """Accuracy of the last checkpoint on `count` held-out scenes, outline and scribble controls (bare networks,
    DPM++ 2M Karras, 20 steps: fast; `bench/builtin_controlnet.py` measures the shipped folder through the app)."""
    from modules.training.train_builtin import _tokenizer
    from modules.training.vocab import CompactVocab

    state = load_checkpoint(run_dir / "controlnet.pt")
    if state is None:
        raise SystemExit(f"no run at {run_dir}; train first")
    unet, text, vae, scale, config = load_frozen()
    net = new_controlnet(unet)
    net.load_state_dict(state["net"])
    for kind in cdata.CONTROL_KINDS:
        acc, readings, scenes = held_out_eval(unet, net, text, vae, scale, schedule(config), CompactVocab(_tokenizer()),
                                              count, kind, seed=2026)
        print(f"{kind} ({count} held-out scenes, step {state['progress']['step']}): " +
              " ".join(f"{k} {v:.1%}" for k, v in acc.items()))
        for key in ("shape", "position"):
            print(f"  {key} control → read: " + " | ".join(format_confusion(confusion(readings, scenes, key))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=[p.name for p in PHASES], default=None,
                        help="run only this phase (default: each in turn; one whose budget is spent is skipped)")
    parser.add_argument("--eval-minutes", type=float, default=10.0, help="held-out evaluation interval")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps a shared machine usable)")
    parser.add_argument("--export", action="store_true", help="write the shipped folder from the last checkpoint")
    parser.add_argument("--evaluate", type=int, default=0, metavar="N", help="score the last checkpoint on N scenes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    phases = [p for p in PHASES if args.phase in (None, p.name)]
    if args.export or args.evaluate:
        run_dir = phases[-1].run_dir
        export(run_dir=run_dir) if args.export else evaluate_last(args.evaluate, run_dir)
        return

    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    for phase in phases:
        train(phase, args.eval_minutes, log)


if __name__ == "__main__":
    main()
