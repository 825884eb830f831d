"""Test helpers: k-diffusion as the numeric oracle (loaded without its package __init__) and a tiny eps model."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import torch

from modules.sampling.denoiser import scaled_linear_alphas_cumprod


def load_kdiffusion() -> types.SimpleNamespace:
    """k_diffusion.sampling / .external / .utils without running k_diffusion/__init__.py (it pulls in
    wandb, clip and friends); submodules are loaded by path under a bare package module."""
    # the installed package, not the extension layer's k_diffusion views (A1111's name for it) if aliases are on
    spec = importlib.machinery.PathFinder.find_spec("k_diffusion")
    assert spec is not None and spec.submodule_search_locations, "k-diffusion is a test requirement"
    root = Path(spec.submodule_search_locations[0])
    loaded = getattr(sys.modules.get("k_diffusion.external"), "__file__", None) or ""
    if not loaded.startswith(str(root)):
        pkg = types.ModuleType("k_diffusion")
        pkg.__path__ = [str(root)]
        sys.modules["k_diffusion"] = pkg
        for name in ("utils", "sampling", "external"):
            sub = importlib.util.spec_from_file_location(f"k_diffusion.{name}", root / f"{name}.py")
            assert sub is not None and sub.loader is not None
            module = importlib.util.module_from_spec(sub)
            sys.modules[f"k_diffusion.{name}"] = module
            sub.loader.exec_module(module)
            setattr(pkg, name, module)
    return types.SimpleNamespace(sampling=sys.modules["k_diffusion.sampling"],
                                 external=sys.modules["k_diffusion.external"])


ALPHAS = scaled_linear_alphas_cumprod()  # [1000], SD's training schedule


class TinyEps(torch.nn.Module):
    """A fixed random conv net of (x, t, cond[, concat]): smooth in t, different per cond, per-sample independent."""

    def __init__(self, seed: int = 0, channels: int = 4, ctx: int = 8, hidden: int = 16):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(channels, hidden, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(hidden, channels, 3, padding=1)
        self.proj = torch.nn.Linear(ctx, hidden)
        self.concat = torch.nn.Conv2d(1, hidden, 1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3
        self.freqs = torch.randn(hidden, generator=g)
        self.calls: list[int] = []

    @torch.no_grad()
    def forward(self, x, t, cond=None, concat=None):
        self.calls.append(x.shape[0])
        temb = torch.sin(t.float()[:, None] / 1000 * 3 * self.freqs)[:, :, None, None]  # [B, hidden, 1, 1]
        h = self.conv1(x) + temb
        if cond is not None:
            h = h + self.proj(cond.mean(1))[:, :, None, None]
        if concat is not None:
            h = h + self.concat(concat)
        return 0.9 * x + 0.3 * self.conv2(torch.tanh(h))  # eps ~ the input noise, as a trained model


class NoiseList:
    """The same sequence of noises for our sampler and for k-diffusion (its `torch.randn_like` or noise_sampler)."""

    def __init__(self, shape, seed: int = 1234, count: int = 200):
        g = torch.Generator().manual_seed(seed)
        self.noises = [torch.randn(shape, generator=g) for _ in range(count)]
        self.i = 0

    def __call__(self, *args):
        noise = self.noises[self.i]
        self.i += 1
        return noise

    def randn_like(self, x):
        return self(x)

    def fresh(self) -> NoiseList:
        other = NoiseList.__new__(NoiseList)
        other.noises, other.i = self.noises, 0
        return other


class TorchWithNoise:
    """Stands in for the `torch` module inside k_diffusion.sampling so its randn_like draws from a NoiseList."""

    def __init__(self, noises: NoiseList):
        self.noises = noises

    def __getattr__(self, item):
        return self.noises.randn_like if item == "randn_like" else getattr(torch, item)


def with_kdiffusion_noise(kd, noises: NoiseList, fn, *args, **kwargs):
    """Run a k-diffusion function with its module-level torch.randn_like replaced by `noises`."""
    saved = kd.sampling.torch
    kd.sampling.torch = TorchWithNoise(noises)
    try:
        return fn(*args, **kwargs)
    finally:
        kd.sampling.torch = saved
