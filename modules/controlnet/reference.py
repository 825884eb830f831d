"""reference_only, reference_adain and reference_adain+attn: steering by a reference image without a ControlNet
model, as sd-webui-controlnet's `hook.py` does it, on diffusers' UNet.

Per UNet call of a steering unit: the reference image's latents, noised to the call's timestep (z_ref·√ᾱ_t +
noise·√(1 − ᾱ_t), seeded noise), first go through the plain UNet ("write" pass), which records
- (attention modes) every self-attention input of the transformer blocks whose rank is below the unit's weight; the
  blocks are ranked widest first, in the UNet's order (down, middle, up), rank = position / count;
- (AdaIN modes) the per-channel mean and variance of the outputs of some UNet blocks (the original layout's middle
  block, input blocks 4, 5, 7, 8 (+10, 11 for SD 1.x/2.x) and output blocks 0–5 (0–7)), each with its own
  threshold: 0 for the middle block, 2·(1 − i/n) for input block i of n, 2·i/n for output block i of n.
Then the real call ("read" pass): self-attention attends to its own tokens and the recorded ones; block outputs are
renormalised to the recorded statistics (AdaIN). With style fidelity f, conditional rows take the steered result and
unconditional rows the mix f·plain + (1 − f)·steered, so f pushes classifier-free guidance towards the reference.
f is the unit's threshold_a ("Style Fidelity", 0 to 1), cubed on SDXL; "ControlNet is more important" makes it 1,
"My prompt is more important" and the hires pass 0. Hooks live only for the call (`ReferenceHooks.installed`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

ATTENTION_MODULES = ("reference_only", "reference_adain+attn")
ADAIN_MODULES = ("reference_adain", "reference_adain+attn")
REFERENCE_MODULES = ("reference_only", "reference_adain", "reference_adain+attn")
ADAIN_EPS = 1e-6
# the original layout's block indices whose outputs AdaIN renormalises (the extension's choice per family)
ADAIN_BLOCKS = {"sdxl": ((4, 5, 7, 8), (0, 1, 2, 3, 4, 5)), "sd": ((4, 5, 7, 8, 10, 11), tuple(range(8)))}


def style_fidelity(threshold_a: float, sdxl: bool, control_mode: str, hires: bool) -> float:
    """The fidelity a unit's reference runs with.

    >>> style_fidelity(0.5, False, "Balanced", False), style_fidelity(0.5, True, "Balanced", False)
    (0.5, 0.125)
    >>> style_fidelity(0.5, False, "ControlNet is more important", True), style_fidelity(0.5, False, "Balanced", True)
    (1.0, 0.0)
    """
    fidelity = max(0.0, min(1.0, float(threshold_a)))
    if sdxl:
        fidelity = fidelity ** 3.0  # the extension: SDXL's attention sharing is unstable, so it is damped
    if control_mode == "ControlNet is more important":
        return 1.0
    if control_mode == "My prompt is more important" or hires:
        return 0.0
    return fidelity


def transformer_blocks(unet) -> list:
    """The UNet's transformer blocks in the original layout's order: encoder, middle block, decoder."""
    parts = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    return [block for part in parts for attention in getattr(part, "attentions", None) or ()
            for block in attention.transformer_blocks]


def attention_ranks(blocks: Sequence) -> list[float]:
    """Each block's rank in [0, 1): its place when sorted widest first (ties in UNet order), over the count."""
    order = sorted(range(len(blocks)), key=lambda i: -blocks[i].norm1.normalized_shape[0])
    ranks = [0.0] * len(blocks)
    for place, i in enumerate(order):
        ranks[i] = place / len(blocks)
    return ranks


def _block_end(block, j: int, layers: int, upsample: bool):
    """The module whose output is pair j of a diffusers down/up block (j == layers: its down/upsampler)."""
    if j == layers:
        samplers = getattr(block, "upsamplers" if upsample else "downsamplers", None)
        return samplers[0] if samplers else None
    attentions = getattr(block, "attentions", None)
    if attentions is not None and j < len(attentions):
        return attentions[j]
    return block.resnets[j] if j < len(block.resnets) else None


def adain_modules(unet, family: str) -> list[tuple[torch.nn.Module, float]]:
    """(module, threshold) of each block AdaIN renormalises: the original layout's input block k is pair
    (k − 1) mod (L + 1) of level (k − 1) div (L + 1), output block i pair i mod (L + 1) of up level i div (L + 1),
    L the res blocks per level; blocks the UNet does not have (small test models) are left out."""
    inputs, outputs = ADAIN_BLOCKS["sdxl" if family == "sdxl" else "sd"]
    layers = len(unet.down_blocks[0].resnets)
    found = [(unet.mid_block, 0.0)]
    for w, k in enumerate(inputs):
        level, j = divmod(k - 1, layers + 1)
        end = _block_end(unet.down_blocks[level], j, layers, False) if level < len(unet.down_blocks) else None
        found.append((end, 2.0 * (1.0 - w / len(inputs))))
    for w, i in enumerate(outputs):
        level, j = divmod(i, layers + 1)
        end = _block_end(unet.up_blocks[level], j, layers, True) if level < len(unet.up_blocks) else None
        found.append((end, 2.0 * w / len(outputs)))
    return [(m, threshold) for m, threshold in found if m is not None]


@dataclass
class Machine:
    """What the hooks do now: record ("write") for a unit of `weight` and `fidelity`, or apply ("read")."""

    attention: str = "read"
    adain: str = "read"
    weight: float = 1.0
    fidelity: float = 0.0
    uncond: torch.Tensor | None = None  # [n] row indices of the unconditional rows of the read pass


def _mix(steered: torch.Tensor, plain_uncond: Callable[[], torch.Tensor], fidelities: list[float],
         uncond: torch.Tensor | None) -> torch.Tensor:
    """Conditional rows steered; unconditional ones f·plain + (1 − f)·steered, f the recorded fidelities' mean."""
    fidelity = sum(fidelities) / len(fidelities)
    conditional = steered.clone()
    if uncond is not None and len(uncond) and fidelity > 1e-5:
        conditional[uncond] = plain_uncond().to(steered.dtype)
    return fidelity * conditional + (1.0 - fidelity) * steered


class SharedAttention:
    """Stands in for a self-attention's processor: records its input, or attends to it beside its own tokens."""

    def __init__(self, inner, rank: float, machine: Machine):
        self.inner, self.rank, self.machine = inner, rank, machine
        self.bank: list[torch.Tensor] = []
        self.fidelities: list[float] = []

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args,
                 **kwargs):
        m = self.machine
        if m.attention == "write" and m.weight > self.rank:
            self.bank.append(hidden_states.detach().clone())  # [B, N, C]
            self.fidelities.append(m.fidelity)
        if m.attention != "read" or not self.bank:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        shared = torch.cat([hidden_states, *[b.to(hidden_states) for b in self.bank]], dim=1)  # [B, N·(1 + n), C]
        steered = self.inner(attn, hidden_states, shared, attention_mask, temb, *args, **kwargs)
        uncond = m.uncond

        def plain():
            return self.inner(attn, hidden_states[uncond], None, attention_mask, temb, *args, **kwargs)

        out = _mix(steered, plain, self.fidelities, uncond)
        self.bank, self.fidelities = [], []
        return out


class AdaIN:
    """A forward hook on a UNet block: records its output's channel statistics, or renormalises to them."""

    def __init__(self, threshold: float, machine: Machine):
        self.threshold, self.machine = threshold, machine
        self.means: list[torch.Tensor] = []
        self.variances: list[torch.Tensor] = []
        self.fidelities: list[float] = []

    def __call__(self, module, args, output):
        sample = output[0] if isinstance(output, tuple) else getattr(output, "sample", output)
        m = self.machine
        if m.adain == "write" and m.weight > self.threshold:
            var, mean = torch.var_mean(sample, dim=(2, 3), keepdim=True, correction=0)  # [B, C, 1, 1] each
            self.means.append(mean)
            self.variances.append(var)
            self.fidelities.append(m.fidelity)
        if m.adain != "read" or not self.means:
            return None
        var, mean = torch.var_mean(sample, dim=(2, 3), keepdim=True, correction=0)  # [B, C, 1, 1]
        std = torch.clamp(var, min=ADAIN_EPS) ** 0.5
        target_mean = sum(self.means) / len(self.means)
        target_std = torch.clamp(sum(self.variances) / len(self.variances), min=ADAIN_EPS) ** 0.5
        steered = (sample - mean) / std * target_std + target_mean  # [B, C, h, w]
        uncond = m.uncond
        out = _mix(steered, lambda: sample[uncond], self.fidelities, uncond).to(sample.dtype)
        self.means, self.variances, self.fidelities = [], [], []
        if isinstance(output, tuple):
            return (out, *output[1:])
        if hasattr(output, "sample"):
            output.sample = out
            return output
        return out


class ReferenceHooks:
    """The hooks of one UNet call on `unet` (diffusers' UNet2DConditionModel) of `family` ("sd" or "sdxl")."""

    def __init__(self, unet, family: str):
        self.unet, self.family = unet, family
        self.machine = Machine()

    @contextlib.contextmanager
    def installed(self):
        blocks = transformer_blocks(self.unet)
        saved = [(b.attn1, b.attn1.processor) for b in blocks]
        handles = []
        try:
            for block, rank in zip(blocks, attention_ranks(blocks)):
                block.attn1.processor = SharedAttention(block.attn1.processor, rank, self.machine)
            for module, threshold in adain_modules(self.unet, self.family):
                handles.append(module.register_forward_hook(AdaIN(threshold, self.machine)))
            yield self
        finally:
            for attn, processor in saved:
                attn.processor = processor
            for handle in handles:
                handle.remove()

    def write(self, module: str, weight: float, fidelity: float) -> None:
        m = self.machine
        m.attention = "write" if module in ATTENTION_MODULES else "read"
        m.adain = "write" if module in ADAIN_MODULES else "read"
        m.weight, m.fidelity = float(weight), float(fidelity)

    def read(self, uncond: torch.Tensor | None) -> None:
        self.machine.attention = self.machine.adain = "read"
        self.machine.uncond = uncond


@dataclass(frozen=True)
class ReferencePass:
    """One steering unit's write pass: its module, weight, fidelity and the noised reference latents."""

    module: str
    weight: float
    fidelity: float
    latents: torch.Tensor  # [k, 4, h, w]: z_ref·√ᾱ_t + noise·√(1 − ᾱ_t)
    concat: torch.Tensor | None = None  # [k, 5, h, w] for 9-channel inpainting UNets: zero mask, z_ref


def noised(reference: torch.Tensor, a: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The reference latents [k, 4, h, w] at ᾱ = a [k, 1, 1, 1] with seeded noise (drawn on the CPU)."""
    noise = torch.randn(reference.shape, generator=generator, dtype=torch.float32).to(reference.device)
    return (a.sqrt() * reference.double() + (1 - a).sqrt() * noise.double()).float()  # [k, 4, h, w]


def call_with_reference(hooks: ReferenceHooks, passes: Sequence[ReferencePass], unet_call: Callable,
                        x: torch.Tensor, residuals, uncond: torch.Tensor | None) -> torch.Tensor:
    """The UNet call for x with the references' write passes first; `unet_call(x, residuals, concat=...)` runs the
    UNet (ControlNet residuals only in the real call, as the extension adds them only there)."""
    hooks.machine.uncond = uncond
    with hooks.installed():
        for p in passes:
            hooks.write(p.module, p.weight, p.fidelity)
            unet_call(p.latents, None, **({} if p.concat is None else {"concat": p.concat}))
        hooks.read(uncond)
        return unet_call(x, residuals)
