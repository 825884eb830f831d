"""Gradio 3's `Blocks.dependencies`: the page's event listeners as a list of dicts, which extensions search to find
what a button of A1111's page does (sd-webui-agent-scheduler looks for the Generate button's click there).

Gradio 3.41 kept one dict per listener, with `targets` a list of block ids and `trigger` the event's name
("click", "change" …); Gradio 4 and later keep `fns` ({id: BlockFunction}), whose configuration lists
`targets` as (block id, event) pairs. The view is built from those each time it is read, in the order the
listeners were added, so it is never stale; changing it changes nothing.

`Blocks.fns` was Gradio 3's list of those listeners (BlockFunctions); Gradio 6 keeps a dict by id, which its own
code iterates for the ids. The view iterates as both: each item is the id, reading as its BlockFunction.
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping


def gradio3_dependency(fn) -> dict:
    """One listener's configuration in Gradio 3's shape; a listener on several events (`gr.on`) keeps the
    first event's name as its `trigger`."""
    config = dict(fn.get_config())
    targets = list(fn.targets)  # [(block id or None, event name)]
    config["targets"] = [block_id for block_id, _ in targets if block_id is not None]
    config["trigger"] = targets[0][1] if targets else "load"
    return config


def dependencies(blocks) -> list[dict]:
    """`blocks.dependencies` as Gradio 3 listed them."""
    return [gradio3_dependency(fn) for fn in blocks.fns.values()]


class FnIndex(int):
    """A listener's id as `Blocks.fns` yields it: the int Gradio's own code expects, which also reads as the
    listener's BlockFunction (`.inputs`, `.outputs`, `.fn` …), the item extensions got from Gradio 3's list."""

    def __new__(cls, value: int, fn=None):
        index = super().__new__(cls, value)
        index._fn = fn
        return index

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fn, name)


class Gradio3Fns(MutableMapping):
    """`blocks.fns`: Gradio's {id: BlockFunction} for Gradio's code (lookups, `items()`, `pop` reach the dict
    itself), iterated as Gradio 3's list of listeners was (sd-webui-supermerger finds the Generate button's inputs
    by `for fn in demo.fns: fn.inputs`); each item is an FnIndex, still equal to its id."""

    def __init__(self, fns: dict):
        self._fns = fns

    def __getitem__(self, key):
        return self._fns[key]

    def __setitem__(self, key, value) -> None:
        self._fns[key] = value

    def __delitem__(self, key) -> None:
        del self._fns[key]

    def __len__(self) -> int:
        return len(self._fns)

    def __contains__(self, key) -> bool:
        return key in self._fns

    def __iter__(self) -> Iterator[FnIndex]:
        return iter([FnIndex(key, fn) for key, fn in self._fns.items()])

    def items(self):
        return self._fns.items()

    def values(self):
        return self._fns.values()

    def get(self, key, default=None):
        return self._fns.get(key, default)

    def pop(self, key, *default):
        return self._fns.pop(key, *default)


def fns(blocks) -> Gradio3Fns:
    """`blocks.fns` (see Gradio3Fns)."""
    return Gradio3Fns(blocks.default_config.fns)
