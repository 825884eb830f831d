"""A1111's `modules.extra_networks`: `<name:args>` prompt tags (Easel's parser, modules/prompts/extra_networks.py)
and the registry of ExtraNetwork handlers.

An extension's handler is kept and called by `activate`/`deactivate` here with A1111's arguments; Easel's
pipeline applies LoRA tags itself and does not call handlers registered here (docs/a1111-compat.md).
"""
from __future__ import annotations

from modules.extensions.compat.reporting import extension_of, guarded
from modules.prompts.extra_networks import ExtraNetworkParams as _CoreParams
from modules.prompts.extra_networks import parse_extra_networks

extra_network_registry: dict[str, ExtraNetwork] = {}
extra_network_aliases: dict[str, ExtraNetwork] = {}


class ExtraNetworkParams:
    """A1111's params of one tag: `items`, `positional`, `named`."""

    def __init__(self, items=None):
        core = _CoreParams.from_items(list(items or []))
        self.items, self.positional, self.named = list(core.items), list(core.positional), dict(core.named)

    def __eq__(self, other):
        return isinstance(other, ExtraNetworkParams) and self.items == other.items


class ExtraNetwork:
    """Base class of a handler for one tag name (A1111's lora, hypernet)."""

    def __init__(self, name: str):
        self.name = name

    def activate(self, p, params_list):
        raise NotImplementedError

    def deactivate(self, p):
        raise NotImplementedError


def register_extra_network(extra_network: ExtraNetwork) -> None:
    extra_network_registry[extra_network.name] = extra_network


def register_extra_network_alias(extra_network: ExtraNetwork, alias: str) -> None:
    extra_network_aliases[alias] = extra_network


def initialize() -> None:
    extra_network_registry.clear()
    extra_network_aliases.clear()


def parse_prompt(prompt: str) -> tuple[str, dict[str, list[ExtraNetworkParams]]]:
    """The prompt without its tags, and each tag name's params in order."""
    text, found = parse_extra_networks(prompt)
    return text, {name: [ExtraNetworkParams(list(p.items)) for p in params] for name, params in found.items()}


def parse_prompts(prompts):
    """Every prompt without tags; the params are the first prompt's (A1111 activates one set per batch)."""
    res, extra_data = [], None
    for prompt in prompts:
        text, data = parse_prompt(prompt)
        extra_data = data if extra_data is None else extra_data
        res.append(text)
    return res, extra_data or {}


def _owner(handler) -> str:
    import inspect

    try:
        return extension_of(inspect.getfile(type(handler)))
    except (TypeError, OSError):
        return type(handler).__module__


def activate(p, extra_network_data: dict) -> None:
    """Call each registered handler with its tags' params (and with [] for handlers whose tag is absent)."""
    for name, params_list in extra_network_data.items():
        handler = extra_network_registry.get(name) or extra_network_aliases.get(name)
        if handler is not None:
            guarded(_owner(handler), f"{name}.activate", handler.activate, p, params_list)
    for name, handler in extra_network_registry.items():
        if name not in extra_network_data:
            guarded(_owner(handler), f"{name}.activate", handler.activate, p, [])


def deactivate(p, extra_network_data: dict) -> None:
    for name, handler in extra_network_registry.items():
        guarded(_owner(handler), f"{name}.deactivate", handler.deactivate, p)
