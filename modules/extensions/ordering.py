"""Load order of the enabled extensions: A1111's base order (built-in first, then by folder name), rearranged by
metadata.ini's Requires/After (load after) and Before (load before) with a stable topological sort.

An extension whose requirement is missing, disabled or itself not loadable is left out with a message; the others
still load. A cycle is reported on each extension in it, and broken at the extension earliest in base order.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from modules.extensions.discovery import Extension

IsActive = Callable[[Extension], bool]


@dataclass
class Order:
    loaded: list[Extension] = field(default_factory=list)  # in load order
    left_out: dict[str, str] = field(default_factory=dict)  # name → why it is not loaded
    notes: dict[str, str] = field(default_factory=dict)  # name → a problem that does not stop loading (a cycle)


def _index(extensions: list[Extension]) -> dict[str, Extension]:
    """Lower-case folder name and canonical name → extension."""
    table: dict[str, Extension] = {}
    for ext in extensions:
        for name in ext.names():
            table.setdefault(name, ext)
    return table


def _pick(requirement: str, table: dict[str, Extension]) -> Extension | None:
    """A1111: `a|b` is satisfied by the first alternative present."""
    return next((table[alt] for alt in requirement.split("|") if alt in table), None)


def _missing_requirements(candidates: list[Extension], installed: dict[str, Extension],
                          is_active: IsActive) -> dict[str, str]:
    """Extensions whose Requires cannot be met (repeated until nothing changes: blocking spreads)."""
    left_out: dict[str, str] = {}
    while True:
        table = _index([e for e in candidates if e.name not in left_out])
        found: dict[str, str] = {}
        for ext in candidates:
            if ext.name in left_out:
                continue
            for req in ext.metadata.requires:
                if _pick(req, table) is not None:
                    continue
                other = _pick(req, installed)
                why = ("which is not installed" if other is None else "which is disabled" if not is_active(other)
                       else f"which cannot be loaded ({other.name})")
                found[ext.name] = f"requires {req!r}, {why}: not loaded"
                break
        if not found:
            return left_out
        left_out.update(found)


def _edges(loaded: list[Extension]) -> dict[str, set[str]]:
    """name → names that must load after it."""
    table = _index(loaded)
    after: dict[str, set[str]] = {e.name: set() for e in loaded}
    for ext in loaded:
        for req in (*ext.metadata.requires, *ext.metadata.after):
            dep = _pick(req, table)
            if dep is not None and dep is not ext:
                after[dep.name].add(ext.name)
        for req in ext.metadata.before:
            other = _pick(req, table)
            if other is not None and other is not ext:
                after[ext.name].add(other.name)
    return after


def _in_cycle(name: str, after: dict[str, set[str]], remaining: set[str]) -> bool:
    """Is `name` reachable from itself through the extensions not yet placed?"""
    stack, seen = [t for t in after[name] if t in remaining], set()
    while stack:
        node = stack.pop()
        if node == name:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(t for t in after[node] if t in remaining)
    return False


def _stable_toposort(loaded: list[Extension]) -> tuple[list[Extension], list[Extension]]:
    """Kahn's algorithm taking, at each step, the ready extension earliest in base order. When only cycles are
    left, the earliest extension in one is taken anyway. Returns (load order, extensions found in cycles)."""
    position = {e.name: i for i, e in enumerate(loaded)}
    after = _edges(loaded)
    waiting = {e.name: 0 for e in loaded}
    for targets in after.values():
        for t in targets:
            waiting[t] += 1
    ready = [position[n] for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result: list[Extension] = []
    cyclic: list[Extension] = []
    while len(result) < len(loaded):
        if not ready:
            remaining = {e.name for e in loaded} - {e.name for e in result}
            members = [e for e in loaded if e.name in remaining and _in_cycle(e.name, after, remaining)]
            cyclic.extend(e for e in members if e not in cyclic)
            waiting[members[0].name] = 0
            heapq.heappush(ready, position[members[0].name])
        ext = loaded[heapq.heappop(ready)]
        result.append(ext)
        for t in after[ext.name]:
            waiting[t] -= 1
            if waiting[t] == 0:
                heapq.heappush(ready, position[t])
    return result, cyclic


def load_order(extensions: list[Extension], is_active: IsActive | None = None) -> Order:
    """`extensions` in base order (enabled or not); `is_active(ext)` says whether the settings and flags let it
    load (default: `ext.enabled`). Returns which load, in what order, and why others do not."""
    is_active = is_active or (lambda ext: ext.enabled)
    installed = _index([e for e in extensions if e.duplicate_of is None])
    candidates = [e for e in extensions if is_active(e) and e.duplicate_of is None]
    order = Order(left_out=_missing_requirements(candidates, installed, is_active))
    loadable = [e for e in candidates if e.name not in order.left_out]
    order.loaded, cyclic = _stable_toposort(loadable)
    names = ", ".join(e.name for e in cyclic)
    for ext in cyclic:
        order.notes[ext.name] = f"metadata.ini Before/After/Requires form a cycle among {names}; loaded anyway"
    return order
