"""A1111's `modules.shared_cmd_options`: the parsed flags (`cmd_opts`, with A1111's defaults for flags Easel lacks)
and the parser extensions' preload.py added to."""
from __future__ import annotations

from modules.extensions.compat.shared import cmd_opts  # noqa: F401 - A1111 name


def __getattr__(name: str):
    if name == "parser":
        from modules.extensions.compat.cmd_args import current_parser

        return current_parser()
    raise AttributeError(f"module 'modules.shared_cmd_options' has no attribute {name!r}")
