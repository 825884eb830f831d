"""Keeps A1111's `p` and the core's RunContext in step around each hook: `pull` before (ctx → p), `push` after
(p → ctx), so a script that sets `p.prompt`, `p.all_prompts`, `p.seeds` or `p.extra_generation_params` changes
what the core does next."""
from __future__ import annotations

import dataclasses
from typing import Any

from modules.pipeline.seeds import ImagePlan

PLAN_FIELDS = (("all_prompts", "prompts"), ("all_negative_prompts", "negative_prompts"), ("all_seeds", "seeds"),
               ("all_subseeds", "subseeds"))
BATCH_FIELDS = (("prompts", "prompts"), ("negative_prompts", "negative_prompts"), ("seeds", "seeds"),
                ("subseeds", "subseeds"))


def _for_p(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items") and not isinstance(value, dict):
        return dict(value)
    return value


def _for_request(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if name in ("prompt", "negative_prompt") and isinstance(value, (list, tuple)):
        return value[0] if value else ""
    return value


def pull(p, ctx) -> None:
    """ctx → p: the request's fields, the image plan, the current batch, the model's names."""
    for f in dataclasses.fields(ctx.request):
        if f.name not in ("script_name", "script_args", "alwayson_scripts"):
            setattr(p, f.name, _for_p(getattr(ctx.request, f.name)))
    if ctx.plan is not None:
        for p_name, plan_name in PLAN_FIELDS:
            setattr(p, p_name, list(getattr(ctx.plan, plan_name)))
        _apply_pending_lists(p)
    if ctx.batch is not None:
        for p_name, plan_name in BATCH_FIELDS:
            setattr(p, p_name, list(getattr(ctx.batch, plan_name)))
        p.iteration = ctx.batch_number
    if ctx.model is not None:
        checkpoint = ctx.model.checkpoint
        p.sd_model_name, p.sd_model_hash = checkpoint.model_name, checkpoint.shorthash
        p.sd_vae_name, p.sd_vae_hash = ctx.model.vae_name, ctx.model.vae_hash
    ctx.extra = p.extra_generation_params  # one dict: what a hook adds reaches the infotext


def _apply_pending_lists(p) -> None:
    """Per-image lists a script gave as p.prompt / p.seed (see processing.per_image_lists) replace the plan's
    values, once; a short list keeps the plan's values for the images it does not cover."""
    pending = getattr(p, "easel_pending_lists", None)
    if not pending:
        return
    p.easel_pending_lists = None
    for p_name, values in pending.items():
        current = getattr(p, p_name)
        setattr(p, p_name, (list(values) + current[len(values):])[:len(current)])


def push(p, ctx) -> None:
    """p → ctx: request fields a hook changed, then the plan and the batch when a hook replaced them."""
    changes = {}
    for f in dataclasses.fields(ctx.request):
        if f.name in ("script_name", "script_args", "alwayson_scripts"):
            continue
        value = _for_request(f.name, getattr(p, f.name, None))
        if value != getattr(ctx.request, f.name):
            changes[f.name] = value
    if changes:
        ctx.request = dataclasses.replace(ctx.request, **changes)
    ctx.extra = p.extra_generation_params
    if ctx.plan is not None and p.all_prompts is not None:
        ctx.plan = _plan_from(p, PLAN_FIELDS, ctx.plan)
    if ctx.batch is not None and p.prompts is not None:
        tagged = _untouched_tagged_prompts(p.prompts, ctx.batch.prompts)
        ctx.batch = _plan_from(p, BATCH_FIELDS, ctx.batch, {"prompts": tagged} if tagged else None)


def _untouched_tagged_prompts(prompts, batch_prompts) -> tuple | None:
    """A1111 hands scripts the batch's prompts without their extra-network tags once the networks are active; the
    same text back is no change: the run keeps its prompts with the tags, which the infotext shows (A1111 writes
    `all_prompts` there). None when a script changed them."""
    from modules.prompts.extra_networks import parse_extra_networks_batch

    if list(prompts) == list(batch_prompts) or list(prompts) != parse_extra_networks_batch(batch_prompts)[0]:
        return None
    return tuple(batch_prompts)


def _plan_from(p, fields, plan: ImagePlan, kept: dict | None = None) -> ImagePlan:
    values = {plan_name: tuple(getattr(p, p_name) or getattr(plan, plan_name)) for p_name, plan_name in fields}
    values.update(kept or {})
    if all(values[k] == getattr(plan, k) for k in values):
        return plan
    return ImagePlan(batch_size=plan.batch_size, **values)
