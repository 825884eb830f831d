"""`launch.git_tag()` (also `modules.launch_utils`) names the A1111 release whose interface Easel gives: extensions
read it to pick a code path per A1111 version, and a tag that is not A1111's (or "<none>" where git finds no tag)
sends them down an old or a Forge path."""
from __future__ import annotations

import importlib

from packaging.version import Version

from modules.extensions.compat import install_aliases


def test_git_tag_is_the_a1111_release_easel_follows():
    install_aliases()
    launch, launch_utils = importlib.import_module("launch"), importlib.import_module("modules.launch_utils")
    tag = launch.git_tag()
    assert tag == launch_utils.git_tag() == "v1.10.1"
    assert Version(tag.removeprefix("v")) >= Version("1.5") and not tag.startswith("f")
