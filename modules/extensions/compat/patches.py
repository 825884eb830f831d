"""A1111's `modules.patches`: replace an attribute of an object and remember the original, keyed by the caller's
name, so it can be put back (extensions patch Easel's objects the way they patched A1111's)."""
from __future__ import annotations

from collections import defaultdict

originals: defaultdict[str, dict] = defaultdict(dict)


def patch(key: str, obj, field: str, replacement):
    """Set `obj.field = replacement` and return the original; patching the same field twice under one key is
    an error (undo first)."""
    patch_key = (obj, field)
    if patch_key in originals[key]:
        raise RuntimeError(f"patch for {field} is already applied")
    original = getattr(obj, field)
    originals[key][patch_key] = original
    setattr(obj, field, replacement)
    return original


def undo(key: str, obj, field: str):
    """Put the original back and return it; None if there was no patch."""
    patch_key = (obj, field)
    if patch_key not in originals[key]:
        return None
    original = originals[key].pop(patch_key)
    setattr(obj, field, original)
    return original


def original(key: str, obj, field: str):
    """The original of a patched field, or None."""
    return originals[key].get((obj, field))
