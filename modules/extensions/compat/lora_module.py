"""A1111's `lora` module: the older names its built-in Lora extension kept beside `networks`, which extensions
still import by that bare name (sd-webui-supermerger). Each is the `networks` view it stood for
(modules/extensions/compat/lora_networks.py)."""
from __future__ import annotations

from typing import Any

from modules.extensions.compat import lora_networks

list_available_loras = lora_networks.list_available_networks

_NETWORKS_NAME = {"available_loras": "available_networks", "available_lora_aliases": "available_network_aliases",
                  "available_lora_hash_lookup": "available_network_hash_lookup",
                  "forbidden_lora_aliases": "forbidden_network_aliases", "loaded_loras": "loaded_networks"}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(lora_networks, _NETWORKS_NAME.get(name, name))
