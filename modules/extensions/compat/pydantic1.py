"""Pydantic 1 idioms in extensions' own models, under pydantic 2.

A1111 1.10 ran pydantic 1 (its FastAPI 0.94 needs it); Easel's Gradio and FastAPI need pydantic 2. Extensions'
models written for pydantic 1 mostly still work (`.dict()`, `class Config` warn and go on), except two idioms
that fail outright, which this shim keeps for classes defined in an extension's files only:

- `Model.__config__`, the config class every pydantic 1 model had: extensions derive their models' `class
  Config(Base.__config__)` from it (sd-webui-agent-scheduler). Here it is an empty class, so such a model keeps
  its base's configuration.
- A field annotated `Optional[X]` with no default, or with a `Field(...)` giving none, was optional with default
  None in pydantic 1; pydantic 2 makes it required, so such a model could not be built without it.

`uninstall_pydantic1_shim()` puts pydantic back (tests rely on it).
"""
from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic._internal._model_construction import ModelMetaclass
from pydantic.fields import FieldInfo

from modules.extensions.compat.reporting import extension_folders

_MISSING = object()
_OPTIONAL_TEXT = re.compile(r"^\s*(typing\.)?Optional\[|\|\s*None\s*$|^\s*None\s*\|")
_installed: dict[str, Any] = {}


class V1Config:
    """Pydantic 1's per-model config class (`Model.__config__`); it holds nothing, so a model deriving its own
    `Config` from it keeps its base's configuration."""


def from_extension(namespace: dict) -> bool:
    """Whether the class being built is defined in a file under an extension's folder."""
    module = sys.modules.get(namespace.get("__module__") or "")
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    return any(folder in path.parents for folder in extension_folders())


def is_optional(annotation: Any) -> bool:
    """`Optional[X]`, `X | None` (also written as text, under `from __future__ import annotations`)."""
    if isinstance(annotation, str):
        return bool(_OPTIONAL_TEXT.search(annotation))
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and \
        type(None) in typing.get_args(annotation)


def give_optional_fields_none(namespace: dict) -> None:
    """Pydantic 1's rule on a class body: an Optional field with no default gets None."""
    for name, annotation in dict(namespace.get("__annotations__") or {}).items():
        if name.startswith("_") or not is_optional(annotation):
            continue
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            namespace[name] = None
        elif isinstance(value, FieldInfo) and value.is_required():
            namespace[name] = FieldInfo.merge_field_infos(value, default=None)


def _shimmed_new(original):
    def __new__(mcs, cls_name, bases, namespace, *args, **kwargs):
        if from_extension(namespace):
            give_optional_fields_none(namespace)
        return original(mcs, cls_name, bases, namespace, *args, **kwargs)

    return __new__


def install_pydantic1_shim() -> None:
    """Idempotent."""
    if _installed:
        return
    _installed["__new__"] = vars(ModelMetaclass)["__new__"]
    ModelMetaclass.__new__ = staticmethod(_shimmed_new(_installed["__new__"]))  # type: ignore[method-assign]
    type.__setattr__(BaseModel, "__config__", V1Config)


def uninstall_pydantic1_shim() -> None:
    if not _installed:
        return
    ModelMetaclass.__new__ = _installed.pop("__new__")  # type: ignore[method-assign]
    type.__delattr__(BaseModel, "__config__")
