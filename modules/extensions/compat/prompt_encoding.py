"""A1111's prompt encoding as extensions call it themselves: `cond_stage_model.tokenize_line` (a prompt's 77-token
chunks and its token count) and `prompt_parser.get_learned_conditioning` (prompts → their schedules of encoded
conds). sd-webui-negpip encodes the negatively weighted words of a prompt on their own with them. Both run
Easel's encoding (modules/conditioning) with the current settings, the loaded model's embeddings and the
conditioning cache, so they give what a generation would."""
from __future__ import annotations

from typing import Any

from modules.extensions.compat import binding


def _current_model():
    model = binding.app().services.models.current
    if model is None:
        raise RuntimeError("no model is loaded yet: A1111 encodes prompts with the loaded model")
    return model


def tokenize_line(tokenizer, line: str) -> tuple[list, int]:
    """(chunks, token count) of one prompt, with emphasis, BREAK, comma backtrack and embeddings as set."""
    from modules.conditioning.prompt_tokens import prompt_to_chunks
    from modules.extensions.compat import shared

    services = binding.app().services
    model = services.models.current
    embeddings = services.conditioning.embeddings_for(model) if model is not None else None
    return prompt_to_chunks(tokenizer, line, shared.opts.emphasis, shared.opts.comma_padding_backtrack, embeddings)


def _a1111_cond(cond) -> Any:
    """Easel's encoded prompt as A1111 hands it around: a tensor [77·k, C]; for SDXL {"crossattn": [77·k, C],
    "vector": [D]} (the pooled text embedding, as the CFG callbacks show it)."""
    from modules.conditioning.types import Conditioning

    if not isinstance(cond, Conditioning):
        return cond  # already [77·k, C]
    if cond.pooled is None:
        return cond.cross_attn[0]  # [77·k, C]
    return {"crossattn": cond.cross_attn[0], "vector": cond.pooled[0]}  # [77·k, C], [D]


def get_learned_conditioning(model, prompts, steps: int, hires_steps: int | None = None,
                             use_old_scheduling: bool = False) -> list:
    """Each prompt's schedule [ScheduledPromptConditioning(end_at_step, cond)], its texts encoded by the loaded
    model (`model` is `shared.sd_model`) with the current clip skip, emphasis and embeddings."""
    from modules.conditioning.schedules import encode_schedules
    from modules.extensions.compat import shared
    from modules.extensions.compat.prompt_parser import ScheduledPromptConditioning
    from modules.pipeline.prompting import encode_options

    loaded = _current_model()
    options = encode_options(binding.app().services.conditioning, loaded, shared.opts)
    family_options = getattr(loaded.engine, "prompt_options", None)
    negative = bool(getattr(prompts, "is_negative_prompt", False))
    options.update(family_options(shared.opts, negative) if family_options else {})
    schedules = encode_schedules(loaded, list(prompts), steps, int(shared.opts.CLIP_stop_at_last_layers),
                                 hires_steps=hires_steps, use_old_scheduling=use_old_scheduling, **options)
    return [[ScheduledPromptConditioning(end, _a1111_cond(cond)) for end, cond in schedule]
            for schedule in schedules]
