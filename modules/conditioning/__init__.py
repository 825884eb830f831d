"""Prompt text → CLIP conditioning: tokenizer (`tokenizer`), 77-token chunks (`chunks`), emphasis modes
(`emphasis`), encoding and cond/uncond padding (`text`), schedules and AND batches per step (`schedules`), the
token counter (`token_counter`) and the per-model cache (`cache`)."""
