"""Catch a Script method whose name is one letter off an A1111 hook (`proccess`, `postproces_image`): A1111 calls
hooks by name, so such a method silently never runs. The extension's author sees it in the Extensions tab's
Problem column instead (it reads these warnings from the log)."""
from __future__ import annotations

import difflib

SIMILARITY = 0.85  # difflib ratio: "proccess"/"process" 0.93; distinct hooks such as "process"/"postprocess" 0.78


def hook_names(base: type) -> frozenset[str]:
    """The public methods `base` itself defines: the hooks A1111 calls on its subclasses."""
    return frozenset(n for n, v in vars(base).items() if not n.startswith("_") and callable(v))


def misspelled_hooks(cls: type, base: type) -> list[tuple[str, str]]:
    """(method, the hook it nearly spells) for each method `cls` defines that is no hook but is close to one.

    >>> class Base:
    ...     def process(self): ...
    ...     def postprocess(self): ...
    >>> class Mine(Base):
    ...     def proccess(self): ...
    ...     def postprocess(self): ...
    ...     def load_presets(self): ...
    >>> misspelled_hooks(Mine, Base)
    [('proccess', 'process')]
    """
    hooks = hook_names(base)
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_") or name in hooks or not callable(value):
            continue
        close = difflib.get_close_matches(name, hooks, n=1, cutoff=SIMILARITY)
        if close:
            found.append((name, close[0]))
    return found
