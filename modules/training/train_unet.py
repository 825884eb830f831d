"""Phase 2 of the recipe: UNet and text encoder from scratch on cached VAE latents, with v-prediction.

Per step: sample latents x0 from the cached posteriors (scaled to unit variance), a DDPM timestep t, noise ε;
x_t = √ᾱ_t x0 + √(1-ᾱ_t) ε; the UNet, conditioned on the text encoder's last hidden states, predicts
v = √ᾱ_t ε − √(1-ᾱ_t) x0 (Salimans & Ho 2022, "Progressive distillation", §4); loss MSE(v̂, v), optionally with the
latent cells that hold part of the shape weighted ×`shape_weight` (most of an 8×8 latent is flat background, which the
model learns early; the shape's few cells carry its colour, type and position). Captions are redrawn every step
(10 % empty for classifier-free guidance). An EMA of both networks is what gets evaluated and exported.
Timesteps are drawn uniformly, or shifted towards noisier ones (`shifted_timesteps`) for latents larger than 8×8,
or each batch split among several shifts (`mixed_shift_timesteps`).
"""
from __future__ import annotations

import copy
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel

from modules.models.model_config import alphas_cumprod
from modules.training.dataset import CaptionSampler, shape_masks
from modules.training.loop import Progress, load_checkpoint, lr_factor, run_for, save_atomic
from modules.training.vocab import CompactVocab

EMA_DECAY = 0.999


def build_unet(config: dict, seed: int = 0) -> UNet2DConditionModel:
    torch.manual_seed(seed)
    return UNet2DConditionModel(**sfu.create_unet_diffusers_config_from_ldm(config, {}))


def build_text_encoder(config: dict, vocab_size: int, seed: int = 0) -> CLIPTextModel:
    """The CLIP text encoder of the yaml, with a compact token table of `vocab_size` rows for training."""
    torch.manual_seed(seed + 1)
    fields = dict(config["model"]["params"]["cond_stage_config"]["params"]["text_config"], vocab_size=vocab_size)
    fields.update(bos_token_id=0, eos_token_id=2, pad_token_id=0)  # in range of the compact table (unused: no pooling)
    return CLIPTextModel(CLIPTextConfig(**fields))


def schedule(config: dict) -> torch.Tensor:
    params = config["model"]["params"]
    return alphas_cumprod(params["linear_start"], params["linear_end"], params["timesteps"])  # [T]


def latent_shape_cells(images, scenes, factor: int = 8, chunk: int = 1000) -> torch.Tensor:
    """Bool [N, 1, H/f, W/f]: latent cells whose f×f pixel patch holds any of the shape (its edge included)."""
    parts = []
    for start in range(0, len(images), chunk):
        mask = shape_masks(images[start:start + chunk], scenes[start:start + chunk])  # [n, 1, H, W]
        parts.append(F.max_pool2d(mask, factor) > 0)  # [n, 1, H/f, W/f]
    return torch.cat(parts)


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error, each cell weighted by `weight` [B, 1, h, w] and normalised by the mean weight.

    >>> p, t = torch.zeros(1, 1, 1, 2), torch.tensor([[[[1.0, 0.0]]]])
    >>> float(weighted_mse(p, t, None)), float(weighted_mse(p, t, torch.tensor([[[[3.0, 1.0]]]])))
    (0.5, 0.75)
    """
    err = (pred.float() - target).square()  # [B, C, h, w]
    if weight is None:
        return err.mean()
    return (err * weight).mean() / weight.mean()


def min_snr_weight(abar: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-sample loss weight [B] of Min-SNR-γ for v-prediction, min(SNR, γ) / (SNR + 1) with SNR = ᾱ/(1-ᾱ)
    (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy"): mid-noise steps, where a
    shape's outline forms, count fully; near-pure-noise steps (colour only, learned first) and near-clean ones less.

    >>> [round(float(w), 3) for w in min_snr_weight(torch.tensor([0.5, 0.999, 1e-4]), 5.0)]
    [0.5, 0.005, 0.0]
    """
    snr = abar / (1 - abar)
    return snr.clamp(max=gamma) / (snr + 1)


def shifted_timesteps(u: torch.Tensor, abar: torch.Tensor, shift: float) -> torch.Tensor:
    """Timesteps [B] whose SNR is that of the uniformly drawn timesteps `u` [B] divided by `shift`.

    A picture with 4× the latent cells carries 4× the evidence of its layout at a given SNR, so where a shape sits
    becomes readable from x_t at 4× less SNR, and uniform timesteps leave few steps where the model must take the
    position from the prompt (Hoogeboom et al. 2023, "simple diffusion", §3.1; Esser et al. 2024, SD3, §5.3.2, shift
    by the ratio of cells). `shift` 4 gives the 16×16-latent model the SNR mix the 8×8 one learned position from.

    >>> abar = torch.linspace(0.99, 1e-3, 100)
    >>> shifted_timesteps(torch.tensor([0, 50, 99]), abar, 1.0).tolist()
    [0, 50, 99]
    >>> t = shifted_timesteps(torch.arange(100), abar, 4.0); bool((t >= torch.arange(100)).all()), int(t[-1])
    (True, 99)
    """
    if shift == 1.0:
        return u
    log_snr = (abar / (1 - abar)).log()  # [T], decreasing in t
    wanted = log_snr[u] - torch.log(torch.tensor(shift))  # [B]
    t = torch.searchsorted(-log_snr, -wanted)  # first t whose log SNR is at or below the wanted one
    return t.clamp(max=len(abar) - 1)


def mixed_shift_timesteps(u: torch.Tensor, abar: torch.Tensor, shifts: tuple[float, ...]) -> torch.Tensor:
    """Timesteps [B]: sample i shifted by `shifts[i % len(shifts)]` (see `shifted_timesteps`).

    One shift is a trade: 8 teaches the f4 model all five position words but its shapes stall (low-noise steps,
    where a square's corners form, become rare); 4 keeps shapes but learns position one word at a time. A batch
    split between them trains both mixes at once.

    >>> abar = torch.linspace(0.99, 1e-3, 100)
    >>> mixed_shift_timesteps(torch.tensor([10, 10, 10, 10]), abar, (1.0, 8.0)).tolist()
    [10, 49, 10, 49]
    """
    t = u.clone()
    for i, shift in enumerate(shifts):
        t[i::len(shifts)] = shifted_timesteps(u[i::len(shifts)], abar, shift)
    return t


def v_target(x0: torch.Tensor, noise: torch.Tensor, abar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, v) for clean latents x0 [B,4,h,w], noise like x0, ᾱ_t [B]."""
    a = abar.sqrt()[:, None, None, None]  # [B, 1, 1, 1]
    s = (1 - abar).sqrt()[:, None, None, None]
    return a * x0 + s * noise, a * noise - s * x0


class UnetTrainer:
    """Trains UNet + text encoder on (latent mean, latent std, scenes); checkpoint at `path`."""

    phase = "unet"  # names the progress bar and log lines

    def __init__(self, config: dict, vocab: CompactVocab, latents: tuple[torch.Tensor, torch.Tensor], scale: float,
                 scenes, path: Path, *, batch: int = 32, lr: float = 4e-4, seed: int = 0, bf16: bool = False,
                 shape_cells: torch.Tensor | None = None, shape_weight: float = 1.0, min_snr_gamma: float = 0.0,
                 timestep_shift: float | tuple[float, ...] = 1.0, shift_from: float = 0.0):
        """bf16 autocast is off by default: on this CPU (AVX512-BF16, no AMX) it made the UNet's backward pass
        slower than float32 (measured 4.9-5.4 s vs 4.2-5.0 s per batch of 32); it pays off for the VAE only.
        `shape_cells` (bool [N, 1, h, w], see `latent_shape_cells`) with `shape_weight` > 1 weights the loss there;
        `min_snr_gamma` > 0 weights each sample by `min_snr_weight` (0: every timestep alike);
        `timestep_shift` > 1 trains at noisier timesteps (see `shifted_timesteps`) once `shift_from` of the
        budget is spent (before that: uniform timesteps); a tuple of shifts splits each batch among them
        (`mixed_shift_timesteps`)."""
        self.config, self.vocab, self.scenes, self.path = config, vocab, scenes, Path(path)
        self.mean, self.std, self.scale = latents[0], latents[1], scale
        self.batch, self.lr, self.bf16 = batch, lr, bf16
        if shape_weight != 1.0 and shape_cells is None:
            raise ValueError("shape_weight needs the latent shape cells")
        self.shape_cells, self.shape_weight, self.min_snr_gamma = shape_cells, shape_weight, min_snr_gamma
        shifts = timestep_shift if isinstance(timestep_shift, tuple) else (float(timestep_shift),)
        self.timestep_shifts, self.shift_from = shifts, shift_from
        self.unet = build_unet(config, seed)
        self.text = build_text_encoder(config, vocab.size, seed)
        self.ema_unet, self.ema_text = copy.deepcopy(self.unet).eval(), copy.deepcopy(self.text).eval()
        self.ema_unet.requires_grad_(False)
        self.ema_text.requires_grad_(False)
        self.params = [*self.unet.parameters(), *self.text.parameters()]
        self.opt = torch.optim.AdamW(self.params, lr=lr, weight_decay=0.01)
        self.abar = schedule(config)
        self.gen = torch.Generator().manual_seed(seed)
        self.captions = CaptionSampler(seed)
        self.rng = random.Random(seed)
        self.progress = Progress()
        self._resume()

    def _resume(self) -> None:
        state = load_checkpoint(self.path)
        if state is None:
            return
        for name in ("unet", "text", "ema_unet", "ema_text", "opt"):
            getattr(self, name).load_state_dict(state[name])
        self.gen.set_state(state["gen"])
        self.captions.set_state(state["captions"])
        self.rng.setstate(state["rng"])
        self.progress = Progress(**state["progress"])

    def save(self) -> None:
        save_atomic({"unet": self.unet.state_dict(), "text": self.text.state_dict(),
                     "ema_unet": self.ema_unet.state_dict(), "ema_text": self.ema_text.state_dict(),
                     "opt": self.opt.state_dict(), "gen": self.gen.get_state(), "captions": self.captions.state(),
                     "rng": self.rng.getstate(), "progress": vars(self.progress)}, self.path)

    def batch_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Compact token ids [B, 77] and scaled latents x0 [B, 4, h, w] for one step."""
        _, ids, x0, _ = self._batch()
        return ids, x0

    def unet_input(self, x_t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """What the UNet sees for the noisy latents x_t [B, 4, h, w] of pictures `idx` [B] (an inpainting trainer
        appends its conditioning channels)."""
        return x_t

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Picture indices [B], token ids [B, 77], latents x0 [B, 4, h, w] and the loss weight [B, 1, h, w]
        (None: unweighted)."""
        idx = torch.randint(0, len(self.mean), (self.batch,), generator=self.gen)
        captions = self.captions.captions([self.scenes[i] for i in idx.tolist()])
        full = self.vocab.with_unknown_words(self.vocab.full_chunks(captions), self.rng)
        mean, std = self.mean[idx].float(), self.std[idx].float()  # [B, 4, h, w]
        x0 = (mean + std * torch.randn(mean.shape, generator=self.gen)) * self.scale
        weight = None
        if self.shape_weight != 1.0 and self.shape_cells is not None:  # __init__: a weight comes with its cells
            weight = 1.0 + (self.shape_weight - 1.0) * self.shape_cells[idx].float()  # [B, 1, h, w]
        return idx, self.vocab.compact(full), x0, weight

    def step(self, fraction: float) -> dict:
        for group in self.opt.param_groups:
            group["lr"] = self.lr * lr_factor(fraction)
        idx, ids, x0, weight = self._batch()
        u = torch.randint(0, len(self.abar), (self.batch,), generator=self.gen)  # [B]
        t = mixed_shift_timesteps(u, self.abar, self.timestep_shifts) if fraction >= self.shift_from else u
        noise = torch.randn(x0.shape, generator=self.gen)
        x_t, v = v_target(x0, noise, self.abar[t])
        if self.min_snr_gamma > 0:
            per_sample = min_snr_weight(self.abar[t], self.min_snr_gamma)[:, None, None, None]  # [B, 1, 1, 1]
            weight = per_sample if weight is None else weight * per_sample
        self.unet.train()
        self.text.train()
        with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
            context = self.text(input_ids=ids).last_hidden_state  # [B, 77, C]
            pred = self.unet(self.unet_input(x_t, idx), t, encoder_hidden_states=context).sample  # [B, 4, h, w]
        loss = weighted_mse(pred, v, weight)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self._update_ema()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(EMA_DECAY, (1 + self.progress.step) / (10 + self.progress.step))
        for ema, live in ((self.ema_unet, self.unet), (self.ema_text, self.text)):
            for e, p in zip(ema.parameters(), live.parameters()):
                e.lerp_(p.detach(), 1 - decay)

    def train(self, budget_s: float, hooks=(), log=print, stop_requested=lambda: False) -> Progress:
        return run_for(budget_s, self.progress, self.step, self.save, hooks=hooks, log=log, desc=self.phase,
                       stop_requested=stop_requested)
