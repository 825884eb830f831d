"""Allocator choice (modules/allocator.py): at start-up glibc is told to keep freed memory, so big buffers freed
and allocated again do not page-fault back in; a preloaded allocator or EASEL_ALLOCATOR=glibc is respected."""
from __future__ import annotations

import subprocess
import sys

import pytest

from modules.allocator import configure_at_start, launch_choice

CHURN = """
import resource, sys
sys.path.insert(0, {root!r})
from modules.allocator import configure_at_start
print(configure_at_start(), file=sys.stderr)
def churn():
    for _ in range(20):
        block = bytearray(48 << 20)  # 48 MiB, above glibc's largest mmap threshold
        del block
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(env_value: str) -> int:
    from modules.paths import INSTALL_DIR

    env = {"EASEL_ALLOCATOR": env_value, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHURN.format(root=str(INSTALL_DIR))], env=env, check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_mallopt_stops_the_page_fault_churn():
    kept, default = faults("auto"), faults("glibc")
    assert default > 20 * (48 << 20) // 4096 // 2  # glibc maps and unmaps every block: its pages fault each time
    assert kept < default / 20


def test_preloaded_allocator_and_glibc_are_respected():
    assert configure_at_start({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"}) == "tcmalloc"
    assert configure_at_start({"EASEL_ALLOCATOR": "glibc"}) == "glibc"


def test_launch_choice_refuses_unknown_values_naming_the_variable():
    with pytest.raises(ValueError, match="EASEL_ALLOCATOR must be one of auto, glibc, mallopt"):
        launch_choice({"EASEL_ALLOCATOR": "tcmaloc"})
