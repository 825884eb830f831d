"""The page footer with A1111's `div.versions` line: extensions and bug reports read the versions from it.

Package versions come from the installed metadata, so building the page still imports no torch.
"""
from __future__ import annotations

import html
import platform
import sys
from importlib import metadata


def package_version(name: str) -> str:
    """The installed version of `name`, or "N/A".

    >>> package_version("surely-not-installed-easel-test")
    'N/A'
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "N/A"


def versions_html(easel_version: str) -> str:
    """A1111's versions line (version • python • torch • xformers • gradio • checkpoint)."""
    parts = [f"version: {html.escape(easel_version)}",
             f"python: <span title=\"{html.escape(sys.version)}\">{platform.python_version()}</span>",
             f"torch: {package_version('torch')}", f"xformers: {package_version('xformers')}",
             f"gradio: {package_version('gradio')}", "checkpoint: <a id=\"sd_checkpoint_hash\">N/A</a>"]
    return "<div class='versions'>" + "&#x2000;•&#x2000;".join(parts) + "</div>"
