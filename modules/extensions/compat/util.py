"""A1111's `modules.util`: small file and text helpers extensions use."""
from __future__ import annotations

import os
import re

from modules.extensions.compat import shared


def natural_sort_key(s: str, regex=re.compile("([0-9]+)")):
    """Sort key that orders "img2" before "img10"."""
    return [int(text) if text.isdigit() else text.lower() for text in regex.split(s)]


def listfiles(dirname: str) -> list[str]:
    """The folder's files (not hidden ones), in natural order, with their folder."""
    names = [x for x in sorted(os.listdir(dirname), key=natural_sort_key) if not x.startswith(".")]
    return [os.path.join(dirname, x) for x in names if os.path.isfile(os.path.join(dirname, x))]


def walk_files(path: str, allowed_extensions=None):
    """Every file under `path` whose extension (lower case, with its dot) is allowed; all when None."""
    if not os.path.exists(path):
        return
    allowed = None if allowed_extensions is None else {e.lower() for e in allowed_extensions}
    for root, _, files in os.walk(path, followlinks=True):
        for filename in sorted(files, key=natural_sort_key):
            if allowed is None or os.path.splitext(filename)[1].lower() in allowed:
                yield os.path.join(root, filename)


def html_path(filename: str) -> str:
    return os.path.join(shared.script_path, "html", filename)


def html(filename: str) -> str:
    """The text of html/<filename> of the install folder, or '' if there is none."""
    path = html_path(filename)
    try:
        with open(path, encoding="utf8") as file:
            return file.read()
    except OSError:
        return ""


def ldm_print(*args, **kwargs) -> None:
    if shared.opts.hide_ldm_prints:
        return
    print(*args, **kwargs)


def truncate_path(target_path, base_path=None) -> str:
    """`target_path` relative to `base_path` (the current folder) when inside it, else absolute."""
    abs_target, abs_base = os.path.abspath(target_path), os.path.abspath(base_path or os.getcwd())
    try:
        if os.path.commonpath([abs_target, abs_base]) == abs_base:
            return os.path.relpath(abs_target, abs_base)
    except ValueError:
        pass
    return abs_target


def load_file_from_url(*args, **kwargs) -> str:
    from modules.extensions.compat.modelloader import load_file_from_url as load

    return load(*args, **kwargs)
