"""Prompts of one batch → per-step conditioning for CFG: schedules ([a:b:n], [a|b]), AND parts, padding.

A1111 recomputes the conditioning at every model call from the encoded schedules; so do we (stacking is cheap,
every scheduled text is encoded once, cached by model, text, clip skip, emphasis and comma backtrack).
When cond and uncond differ in length, A1111 (pad_cond_uncond off) runs them through the UNet separately rather
than padding; each `Conditioning` keeps its own token length, and the model wrapper (`sample.py`) runs each length
group unpadded. With pad_cond_uncond on, the shorter side is filled up with the empty prompt's chunk; with
pad_cond_uncond_v0 (A1111 before 1.6 with DDIM/PLMS) the negative side alone is made the prompt's length, by
repeating its last token or cutting it. Either writes its infotext key ("Pad conds", "Pad conds v0") once it
padded.
Extra-network tags (`<lora:…>`) are cut from the positive prompts here, so every pass encodes what A1111 encodes.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from modules.conditioning.schedules import cond_batch_at_step, encode_multicond, encode_schedules, \
    multicond_batch_at_step
from modules.conditioning.types import Conditioning, as_conditioning
from modules.options import Snapshot
from modules.pipeline.conditioning_service import PromptConditioning
from modules.pipeline.seeds import ImagePlan
from modules.prompts.extra_networks import parse_extra_networks
from modules.sampling.cfg import MultiCond


@dataclass(frozen=True)
class StepConditioning:
    """Callables step → conditioning, as CFGDenoiser takes them (step counts model calls)."""

    cond: Callable[[int], MultiCond]  # MultiCond.tensor is a Conditioning [ΣP, T, C]
    uncond: Callable[[int], Conditioning]  # [B, T', C]
    notes: dict = dataclasses.field(default_factory=dict)  # infotext entries of the padding done so far

    def note_padding(self, notes: dict | None) -> None:
        """After a pass: its padding's infotext entries into the run's `notes` (A1111 writes them once padded)."""
        if notes is not None:
            notes.update(self.notes)


def encode_options(cache, model, opts: Snapshot) -> dict:
    key = f"{model.checkpoint.path}|{model.checkpoint.sha256 or ''}"
    options = {"cache": cache, "model_hash": key, "emphasis": opts.emphasis,
               "comma_backtrack": opts.comma_padding_backtrack}
    if isinstance(cache, PromptConditioning):
        options["model_hash"] += cache.text_weights_key(model)
        options["embeddings"] = cache.embeddings_for(model)
    return options


def without_network_tags(batch: ImagePlan) -> ImagePlan:
    """The batch with `<kind:…>` tags cut from its positive prompts (A1111 leaves negative prompts as they are).

    >>> plan = ImagePlan(("a <lora:x:1> cat",), ("<lora:y:1>",), (1,), (1,), 1)
    >>> without_network_tags(plan).prompts, without_network_tags(plan).negative_prompts
    (('a  cat',), ('<lora:y:1>',))
    """
    return dataclasses.replace(batch, prompts=tuple(parse_extra_networks(p)[0] for p in batch.prompts))


def pad_uncond_v0(cond: Conditioning, uncond: Conditioning) -> Conditioning:
    """A1111's pre-1.6 padding (`pad_cond_uncond_v0`): the negative side [B, T', C] takes the prompt's length T,
    its last token repeated, or cut when longer."""
    x, length = uncond.cross_attn, cond.cross_attn.shape[1]  # [B, T', C]
    missing = max(length - x.shape[1], 0)
    x = torch.cat([x[:, :length], x[:, -1:].repeat(1, missing, 1)], dim=1)  # [B, T, C]
    return dataclasses.replace(uncond, cross_attn=x, lengths=None)


def pad_tokens(a: Conditioning, b: Conditioning, filler: torch.Tensor) -> tuple[Conditioning, Conditioning]:
    """Bring [N, T1, C] and [M, T2, C] to one length by appending `filler` chunks [1, 77, C] (pad_cond_uncond)."""
    longest = max(a.cross_attn.shape[1], b.cross_attn.shape[1])

    def pad(c: Conditioning) -> Conditioning:
        x = c.cross_attn  # [N, T, C]
        missing = longest - x.shape[1]
        if not missing:
            return c
        extra = filler.to(x).repeat(x.shape[0], missing // filler.shape[1], 1)  # [N, missing, C]
        return dataclasses.replace(c, cross_attn=torch.cat([x, extra], dim=1), lengths=None)

    return pad(a), pad(b)


def step_conditioning(cache, model, batch: ImagePlan, clip_skip: int, steps: int, opts: Snapshot,
                      exact_rows: bool, hires_steps: int | None = None) -> StepConditioning:
    """Encode a batch's prompts (AND parts and schedules) and negative prompts once; assemble per step.

    With `exact_rows` each prompt is encoded on its own so a batch equals single runs bit for bit.
    """
    options = encode_options(cache, model, opts)
    batch = without_network_tags(batch)
    schedule_kw = {"hires_steps": hires_steps, "use_old_scheduling": bool(opts.use_old_scheduling), **options}
    family_options = getattr(getattr(model, "engine", None), "prompt_options", None)  # e.g. SDXL's crop settings
    negative_kw = {**schedule_kw, **(family_options(opts, True) if family_options else {})}
    schedule_kw.update(family_options(opts, False) if family_options else {})
    if exact_rows:
        parts = [encode_multicond(model, [p], steps, clip_skip, **schedule_kw)[0] for p in batch.prompts]
        negatives = [encode_schedules(model, [n], steps, clip_skip, **negative_kw)[0]
                     for n in batch.negative_prompts]
    else:
        parts = encode_multicond(model, list(batch.prompts), steps, clip_skip, **schedule_kw)
        negatives = encode_schedules(model, list(batch.negative_prompts), steps, clip_skip, **negative_kw)
    filler, v0, notes = None, bool(opts.pad_cond_uncond_v0), {}
    if opts.pad_cond_uncond and not v0:  # A1111: v0 overrides
        empty = encode_schedules(model, [""], steps, clip_skip, **schedule_kw)[0][0].cond
        filler = empty.cross_attn if isinstance(empty, Conditioning) else empty[None]  # [1, 77, C]

    last: dict[int, tuple[MultiCond, Conditioning]] = {}

    def at(step: int) -> tuple[MultiCond, Conditioning]:
        if step not in last:
            rows, cond = multicond_batch_at_step(parts, step)  # [ΣP, T, C]
            cond, uncond = as_conditioning(cond), as_conditioning(cond_batch_at_step(negatives, step))  # [B, T', C]
            if cond.cross_attn.shape[1] != uncond.cross_attn.shape[1] and (v0 or filler is not None):
                if filler is None:  # v0
                    uncond, notes["Pad conds v0"] = pad_uncond_v0(cond, uncond), True
                else:
                    (cond, uncond), notes["Pad conds"] = pad_tokens(cond, uncond, filler), True
            last.clear()
            last[step] = MultiCond(cond, tuple(tuple(r) for r in rows)), uncond
        return last[step]

    return StepConditioning(cond=lambda step: at(step)[0], uncond=lambda step: at(step)[1], notes=notes)
