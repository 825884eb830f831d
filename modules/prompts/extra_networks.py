"""Extra-network tags `<kind:arg1:arg2:key=value>` (`<lora:NAME:0.8>`, `<hypernet:NAME:1>`): found and cut out.

Only the parsing lives here; applying a LoRA is the models package's job. As in A1111 the tag is removed from the
text that is encoded (the infotext keeps the user's prompt as written). Arguments split on `:`; an argument with
exactly one `=` is a named one (`te=0.5`, `unet=1`).

>>> text, nets = parse_extra_networks("a cat <lora:Film Grain:0.8> <lora:x:te=0.5:unet=1>, <hypernet:h:1>")
>>> text
'a cat  , '
>>> [(p.positional, p.named) for p in nets["lora"]]
[(('Film Grain', '0.8'), {}), (('x',), {'te': '0.5', 'unet': '1'})]
>>> nets["hypernet"][0].items
('h', '1')
>>> parse_extra_networks("no tags, <not a tag>, <:x>")
('no tags, <not a tag>, <:x>', {})
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Sequence

_TAG = re.compile(r"<(\w+):([^>]+)>")


@dataclass(frozen=True)
class ExtraNetworkParams:
    """The arguments of one tag: all `items`, the `positional` ones and the `named` (`key=value`) ones."""

    items: tuple[str, ...]
    positional: tuple[str, ...] = ()
    named: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Sequence[str]) -> ExtraNetworkParams:
        positional, named = [], {}
        for item in items:
            key_value = item.split("=", 2)
            if len(key_value) == 2:
                named[key_value[0]] = key_value[1]
            else:
                positional.append(item)
        return cls(tuple(items), tuple(positional), named)


def parse_extra_networks(prompt: str) -> tuple[str, dict[str, list[ExtraNetworkParams]]]:
    """The prompt without its tags, and the tags' parameters by kind, in order of appearance."""
    found: dict[str, list[ExtraNetworkParams]] = {}

    def cut(match: re.Match) -> str:
        found.setdefault(match.group(1), []).append(ExtraNetworkParams.from_items(match.group(2).split(":")))
        return ""

    return _TAG.sub(cut, prompt), found


def parse_extra_networks_batch(prompts: Sequence[str]) -> tuple[list[str], dict[str, list[ExtraNetworkParams]]]:
    """Every prompt without tags; the networks are the first prompt's (A1111 activates one set per batch).

    >>> parse_extra_networks_batch(["a <lora:x:1>", "b <lora:y:1>"])[0]
    ['a ', 'b ']
    >>> [p.items for p in parse_extra_networks_batch(["a <lora:x:1>", "b <lora:y:1>"])[1]["lora"]]
    [('x', '1')]
    """
    stripped, networks = [], None
    for prompt in prompts:
        text, found = parse_extra_networks(prompt)
        stripped.append(text)
        networks = found if networks is None else networks
    return stripped, networks or {}
