"""Which memory allocator Easel runs with: one that keeps freed memory instead of handing it back to the system.

glibc's malloc returns every block above its mmap threshold to the kernel when it is freed; a UNet call allocates
and frees activation tensors of tens of MB hundreds of times, so each call page-faults them all in again (millions
of minor faults, kernel time instead of maths). Measured choices and numbers: docs/performance.md.

By default `webui.main` calls `apply_mallopt` at start-up so glibc keeps its memory (measured best: as few faults as
tcmalloc, no slower, no extra package). `EASEL_ALLOCATOR=tcmalloc` or `jemalloc` makes `webui.sh` preload that
library when Debian's package is installed (`launch_choice`), falling back to mallopt when it is not;
`EASEL_ALLOCATOR=glibc` keeps glibc's defaults. Importing this module changes nothing.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

# Preloadable allocators, each with the shared-object names Debian installs (libgoogle-perftools4, libjemalloc2).
PRELOADS: Mapping[str, tuple[str, ...]] = {
    "jemalloc": ("libjemalloc.so.2",),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4"),
}
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64",
                "/lib/x86_64-linux-gnu")
CHOICES = ("auto", "glibc", "mallopt", *PRELOADS)  # EASEL_ALLOCATOR values

# glibc mallopt parameters (malloc.h) and the values that make it keep freed memory.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4
KEEP_MEMORY = ((M_MMAP_MAX, 0),  # large blocks come from the heap, never from a fresh mmap
               (M_TRIM_THRESHOLD, 2**31 - 1),  # never shrink the heap back
               (M_TOP_PAD, 64 << 20))  # grow it 64 MiB at a time


def find_library(name: str, dirs: Iterable[str] = LIBRARY_DIRS) -> str | None:
    """The path of allocator `name`'s shared object in the system library folders, or None."""
    for directory in dirs:
        for filename in PRELOADS[name]:
            path = Path(directory) / filename
            if path.is_file():
                return str(path)
    return None


def preloaded(env: Mapping[str, str]) -> str | None:
    """The allocator already named in LD_PRELOAD, if any.

    >>> preloaded({"LD_PRELOAD": "/usr/lib/libtcmalloc_minimal.so.4"}), preloaded({})
    ('tcmalloc', None)
    """
    value = env.get("LD_PRELOAD", "")
    return next((name for name in PRELOADS if name in value), None)


def launch_choice(env: Mapping[str, str], find=find_library) -> tuple[str, str | None]:
    """(allocator, library to preload or None) for the launch script from EASEL_ALLOCATOR (default "auto", which
    is "mallopt"). An unknown value raises naming the variable and the choices.

    >>> launch_choice({"EASEL_ALLOCATOR": "glibc"}), launch_choice({}, find=lambda name: f"/lib/{name}.so")
    (('glibc', None), ('mallopt', None))
    >>> launch_choice({"EASEL_ALLOCATOR": "tcmalloc"}, find=lambda name: f"/lib/{name}.so")
    ('tcmalloc', '/lib/tcmalloc.so')
    >>> launch_choice({"EASEL_ALLOCATOR": "tcmalloc"}, find=lambda name: None)
    ('mallopt', None)
    """
    wanted = env.get("EASEL_ALLOCATOR", "auto") or "auto"
    if wanted not in CHOICES:
        raise ValueError(f"EASEL_ALLOCATOR must be one of {', '.join(CHOICES)}; got {wanted!r}")
    if already := preloaded(env):
        return already, None
    if wanted in ("auto", "glibc", "mallopt"):
        return ("mallopt" if wanted == "auto" else wanted), None
    if library := find(wanted):
        return wanted, library
    return "mallopt", None  # the asked-for library is not installed: glibc, told to keep its memory


def apply_mallopt(libc_name: str = "libc.so.6") -> bool:
    """Tell glibc's malloc to keep freed memory (KEEP_MEMORY); False where there is no glibc (musl, macOS)."""
    try:
        libc = ctypes.CDLL(libc_name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in KEEP_MEMORY)


def configure_at_start(env: Mapping[str, str] = os.environ) -> str:
    """Called once by `webui.main`: mallopt unless a preloaded allocator or EASEL_ALLOCATOR=glibc says otherwise.
    Returns the allocator in use, for the start-up log."""
    if already := preloaded(env):
        return already
    if env.get("EASEL_ALLOCATOR") == "glibc":
        return "glibc"
    return "glibc with mallopt" if apply_mallopt() else "system malloc"


if __name__ == "__main__":  # webui.sh: print the library to preload (nothing when none)
    import sys

    try:
        print(launch_choice(os.environ)[1] or "")
    except ValueError as error:
        print(f"easel: {error}", file=sys.stderr)
        sys.exit(2)
