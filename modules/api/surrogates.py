"""Lone UTF-16 surrogates (`"\\ud800"` in JSON) are refused at the API's edge, naming the field.

JSON may escape half of a surrogate pair on its own; Python's parser turns it into a str that cannot be encoded as
UTF-8, so the job store, the tokenizer and the PNG writer would each fail on it later (a 500). A request carrying
one is a client bug, answered 422 before anything else sees it.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from modules.errors import InvalidInput

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
JSON_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def escaped(text: str) -> str:
    r"""`text` with lone surrogates written as `\udXXX` escapes (a field name must be sendable as UTF-8).

    >>> print(escaped("a \ud800 b"))
    a \ud800 b
    """
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def surrogate_field(value: Any, path: str = "") -> str | None:
    r"""The dotted path of the first string (or object key) holding a lone surrogate, or None.

    >>> surrogate_field({"prompt": "a \ud800 star"}), surrogate_field({"a": [1, {"b": "x\udfff"}]})
    ('prompt', 'a[1].b')
    >>> print(surrogate_field({"s": {"\udc00": 1}}), surrogate_field({"prompt": "a \U0001F600 pair is fine"}))
    s.\udc00 None
    """
    if isinstance(value, str):
        return (path or "body") if LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{escaped(str(key))}" if path else escaped(str(key))
            if isinstance(key, str) and LONE_SURROGATE.search(key):
                return child
            found = surrogate_field(item, child)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = surrogate_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


async def reject_lone_surrogates(request: Request) -> None:
    """Router dependency: a JSON body with a lone surrogate anywhere is 422 naming that field. FastAPI has parsed
    the body already when the route takes one (the parse is cached); a body it cannot parse is left to FastAPI."""
    if request.method not in JSON_METHODS or "json" not in request.headers.get("content-type", ""):
        return
    try:
        body = await request.json()
    except ValueError:
        return
    field = surrogate_field(body)
    if field is not None:
        raise InvalidInput(field, "contains a lone UTF-16 surrogate (half of a \\ud800-\\udfff pair)",
                           "text that is valid Unicode; send both halves of a surrogate pair")
