"""The refiner of a request as plain values: which checkpoint, when to switch, in which passes (A1111's Refiner).

Torch-free, so the API can check `refiner_checkpoint` before a job is queued. The switch itself is in
`modules/pipeline/refiner.py`; docs/pipeline.md ("Refiner") describes the whole feature.
"""
from __future__ import annotations

from dataclasses import dataclass

from modules.errors import EaselError, InvalidInput

NO_REFINER = ("", "None", "none")  # A1111's values for "no refiner"
HIRES_PASSES = ("first pass", "second pass", "both passes")  # the `hires_fix_refiner_pass` setting
SHOWN_NAMES = 20


@dataclass(frozen=True)
class RefinerPlan:
    """A refiner that may take over: `checkpoint` (the name as asked), `switch_at` (fraction of the sampling done;
    None: at the first model call, as A1111), `by_steps` (count model calls instead of reading the noise level),
    and which passes of a hires run switch."""

    checkpoint: str
    switch_at: float | None
    by_steps: bool
    first_pass: bool = True
    second_pass: bool = False
    hires_note: str | None = None  # "Hires refiner" infotext value when hires fix runs and it is not the default


def wants_refiner(name: str | None) -> bool:
    """`refiner_checkpoint` names a model (None, "" and "None" mean no refiner, as in A1111).

    >>> wants_refiner(None), wants_refiner("None"), wants_refiner(""), wants_refiner("xl_refiner")
    (False, False, False, True)
    """
    return name is not None and name.strip() not in NO_REFINER


def hires_passes(mode: str, enable_hr: bool) -> tuple[bool, bool, str | None]:
    """(switch in the first pass, switch in the second pass, "Hires refiner" note) for `hires_fix_refiner_pass`.

    >>> hires_passes("second pass", False), hires_passes("second pass", True)
    ((True, False, None), (False, True, None))
    >>> hires_passes("first pass", True), hires_passes("both passes", True)
    ((True, False, 'first pass'), (True, True, 'both passes'))
    """
    if not enable_hr:
        return True, False, None
    if mode not in HIRES_PASSES:
        raise InvalidInput("hires_fix_refiner_pass", f"unknown value {mode!r}", ", ".join(HIRES_PASSES))
    note = None if mode == "second pass" else mode
    return mode != "second pass", mode != "first pass", note


def find_refiner(models, name: str):
    """The CheckpointInfo `name` stands for; unknown → InvalidInput naming `refiner_checkpoint` and the valid
    names (checkpoint titles as GET /sdapi/v1/sd-models lists them, plus None)."""
    try:
        return models.find_checkpoint(name)
    except EaselError:
        titles = [c.title for c in models.list_checkpoints()]
        shown = ", ".join(["None", *titles[:SHOWN_NAMES]]) + (" …" if len(titles) > SHOWN_NAMES else "")
        raise InvalidInput("refiner_checkpoint", f"unknown checkpoint {name!r}", shown) from None


def plan_refiner(models, req, opts, main_checkpoint, enable_hr: bool = False) -> RefinerPlan | None:
    """The request's refiner, or None when nothing will switch: no refiner, the main model itself (A1111 skips
    the switch then), or `refiner_switch_at` 1 (no step ever completes the whole sampling). `enable_hr`: the run
    has a hires second pass (txt2img with hires fix; img2img never)."""
    if not wants_refiner(req.refiner_checkpoint):
        return None
    info = find_refiner(models, req.refiner_checkpoint)
    if main_checkpoint is not None and info.path == main_checkpoint.path:
        return None
    if req.refiner_switch_at is not None and req.refiner_switch_at >= 1:
        return None
    first, second, note = hires_passes(opts.hires_fix_refiner_pass, enable_hr)
    return RefinerPlan(req.refiner_checkpoint, req.refiner_switch_at, bool(opts.refiner_switch_by_sample_steps),
                       first, second, note)
