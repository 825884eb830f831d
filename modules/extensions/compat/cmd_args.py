"""A1111's `modules.cmd_args`: `parser`, the argparse parser of every flag (Easel's and A1111's, plus what the
loading extensions' preload.py added), over which A1111 parsed `cmd_opts`. Extensions parse the command line with it
themselves (sd-webui-lora-block-weight reads `parser.parse_args().api` when its UI is built)."""
from __future__ import annotations

import argparse
from typing import Any

from modules.extensions.compat import binding

_built: dict[int, argparse.ArgumentParser] = {}  # id(App) → its parser, built once


def build_parser() -> argparse.ArgumentParser:
    """Easel's parser as webui.py built it: its flags, A1111's, and each loading extension's preload flags."""
    from modules import cli
    from modules.extensions.preload import preload_extensions

    app = binding.app()
    parser = cli.build_parser()
    preload_extensions(parser, app.paths, app.flags)
    return parser


def current_parser() -> argparse.ArgumentParser:
    app = binding.app()
    if id(app) not in _built:
        _built.clear()  # an earlier App's parser (tests start several): its extensions are not this one's
        _built[id(app)] = build_parser()
    return _built[id(app)]


def __getattr__(name: str) -> Any:
    if name == "parser":
        return current_parser()
    raise AttributeError(f"module 'modules.cmd_args' has no attribute {name!r}")
