"""`networks` of A1111's built-in Lora extension, which other extensions import by that name (A1111 had it in
sys.modules once the Lora extension loaded): the LoRA files on disk as NetworkOnDisk rows, by name and by alias,
read from Easel's LoRA library (modules/models/lora.py), and the ones the last generation applied as
`loaded_networks`. How LoRA weights are applied is Easel's own; the Lora extension's loading and patching
internals are absent and say so."""
from __future__ import annotations

import enum
from typing import Any

from modules.extensions.compat import binding


class SdVersion(enum.Enum):
    Unknown = 1
    SD1 = 2
    SD2 = 3
    SDXL = 4


class NetworkOnDisk:
    """A LoRA file: name (file stem), filename, metadata, alias (kohya's ss_output_name), hashes, sd_version."""

    def __init__(self, name: str, filename: str, metadata: dict | None = None, alias: str | None = None,
                 shorthash: str | None = None):
        self.name, self.filename = name, filename
        self.metadata = dict(metadata or {})
        self.is_safetensors = filename.lower().endswith(".safetensors")
        self.alias = alias or self.metadata.get("ss_output_name", name)
        self.hash, self.shorthash = None, shorthash
        self.sd_version = self.detect_version()

    def detect_version(self) -> SdVersion:
        if str(self.metadata.get("ss_base_model_version", "")).startswith("sdxl_"):
            return SdVersion.SDXL
        if str(self.metadata.get("ss_v2", "")) == "True":
            return SdVersion.SD2
        return SdVersion.SD1 if self.metadata else SdVersion.Unknown

    def get_alias(self) -> str:
        from modules.extensions.compat import shared

        use_name = shared.opts.lora_preferred_name == "Filename"
        return self.name if use_name or self.alias in forbidden_network_aliases else self.alias


class Network:
    """A LoRA applied to the current generation, as A1111's Lora extension lists it in `loaded_networks`."""

    def __init__(self, name: str, network_on_disk: NetworkOnDisk):
        self.name, self.network_on_disk = name, network_on_disk
        self.te_multiplier = self.unet_multiplier = 1.0
        self.dyn_dim: int | None = None
        self.modules: dict = {}  # A1111's layer objects (while a batch runs: compat/lora_batch.py)
        self.bundle_embeddings: dict = {}
        self.mtime: float | None = None
        self.mentioned_name: str | None = None


forbidden_network_aliases: dict[str, int] = {"none": 1, "Addams": 1}


def _on_disk(info, library) -> NetworkOnDisk:
    """The row of one of Easel's LoraInfo (`library`: the LoRA library, for the short hash; None: no hash)."""
    shorthash = library.shorthash(info) if library is not None else None
    return NetworkOnDisk(info.name, str(info.path), info.metadata, info.alias, shorthash)


def _rows() -> list[NetworkOnDisk]:
    library = binding.app().services.loras
    return [] if library is None else [_on_disk(info, library) for info in library.list()]


def list_available_networks() -> None:
    """Read the LoRA folder again (A1111's refresh)."""
    library = binding.app().services.loras
    if library is not None:
        library.list(refresh=True)


def network_for(lora, te: float, unet: float, network: Network | None = None) -> Network:
    """The Network row of one of Easel's applied LoraNetworks (filled into `network` when given)."""
    info = lora.info
    network = network if network is not None else Network.__new__(Network)
    Network.__init__(network, info.name, _on_disk(info, binding.app().services.loras))
    network.te_multiplier, network.unet_multiplier, network.mentioned_name = te, unet, info.name
    network.mtime = info.path.stat().st_mtime if info.path.exists() else None
    return network


def _loaded() -> list[Network]:
    """While a batch runs, its LoRAs as Networks extensions may change (compat/lora_batch.py); otherwise the LoRAs
    of the current model's last generation (a fresh list each time: clearing it changes nothing, as Easel applies
    the prompt's LoRAs again for every generation)."""
    from modules.extensions.compat import lora_batch

    running = lora_batch.running()
    if running is not None:
        return running
    return [network_for(lora, te, unet) for lora, te, unet in binding.app().services.models.last_applied_loras()]


def _by_alias() -> dict[str, NetworkOnDisk]:
    rows = _rows()
    return {**{row.name: row for row in rows}, **{row.alias: row for row in rows}}


_VIEWS = {
    "available_networks": lambda: {row.name: row for row in _rows()},
    "available_network_aliases": _by_alias,
    "available_network_hash_lookup": lambda: {row.shorthash: row for row in _rows() if row.shorthash},
    "loaded_networks": _loaded,
}


def __getattr__(name: str) -> Any:
    if name in _VIEWS:
        return _VIEWS[name]()
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"Easel has no networks.{name}: the internals of A1111's built-in Lora extension; Easel "
                         "applies LoRA itself (modules/models/lora.py, docs/a1111-compat.md)")
