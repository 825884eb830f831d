"""A1111's `modules.call_queue`: wrappers extensions put around the functions their buttons call.

`wrap_gradio_call` turns an exception into A1111's error output: the extra outputs (default `[None, ""]`) followed by
the message as HTML, so the page shows it instead of a traceback; the traceback goes to the log with the
function's name. `wrap_gradio_gpu_call` also takes `queue_lock`, so that such calls run one at a time.
"""
from __future__ import annotations

import functools
import html
import logging
import threading

log = logging.getLogger(__name__)

queue_lock = threading.Lock()


def wrap_queued_call(func):
    """`func` run while holding `queue_lock`."""
    @functools.wraps(func)
    def f(*args, **kwargs):
        with queue_lock:
            return func(*args, **kwargs)

    return f


def wrap_gradio_gpu_call(func, extra_outputs=None):
    """`func` run under `queue_lock`, errors reported as `wrap_gradio_call` does."""
    return wrap_gradio_call(wrap_queued_call(func), extra_outputs=extra_outputs, add_stats=True)


def wrap_gradio_call(func, extra_outputs=None, add_stats=False):
    """`func`'s outputs as a tuple (it returns a sequence, as in A1111); on an exception, `extra_outputs` (or
    `[None, ""]`) plus `<div class='error'>Type: message</div>`. `add_stats` is accepted for A1111 callers."""
    @functools.wraps(func)
    def f(*args, extra_outputs_array=extra_outputs, **kwargs):
        try:
            return tuple(func(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - reported to the page and the log, as A1111 does
            name = getattr(func, "__qualname__", repr(func))
            log.exception("Error completing request (%s)", name)
            message = f"{type(e).__name__}: {e}"
            extra = list(extra_outputs_array) if extra_outputs_array is not None else [None, ""]
            return tuple(extra + [f"<div class='error'>{html.escape(message)}</div>"])

    return f
