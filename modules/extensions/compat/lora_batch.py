"""`networks.loaded_networks` while a batch runs, as A1111's Lora extension leaves it after activating the batch's
LoRAs: one Network per LoRA, with its multipliers and its per-layer objects (`modules`, built when first read).
A1111's layers re-read the loaded networks at their next forward, so what an extension changes there before
sampling is what samples (sd-webui-lora-block-weight scales layers per UNet block and sets the multipliers);
`sync` does the same for Easel: a changed network is patched into the model again, as it now is."""
from __future__ import annotations

import itertools
import logging

from modules.extensions.compat import binding
from modules.extensions.compat.lora_layer_view import edited_layer, layer_modules
from modules.extensions.compat.lora_networks import Network, network_for

log = logging.getLogger("easel.extensions")
_edits = itertools.count(1)


class BatchNetwork(Network):
    """A Network of the running batch over Easel's LoraNetwork `lora`; its `modules` are built on first read."""

    def __init__(self, lora, te: float, unet: float, model):
        self._lora, self._model, self._modules = lora, model, None
        self._marks: dict = {}
        network_for(lora, te, unet, self)

    @property
    def modules(self) -> dict:
        if self._modules is None:
            self._modules = layer_modules(self, self._lora, self._model, bool(self._model.engine.a1111_flags.get(
                "is_sd2", False)))
            self._marks = {key: module.mark() for key, module in self._modules.items()}
        return self._modules

    @modules.setter
    def modules(self, value: dict) -> None:
        self._modules = value if value else None

    def rebase(self, lora) -> None:
        """Stand for `lora` (this network as edited, now patched in): later edits are measured from it."""
        self._lora, self._modules = lora, None

    def as_applied(self) -> tuple:
        """(LoraNetwork, te, unet) as this Network now says: its layers as edited, under a new identity."""
        layers = dict(self._lora.layers)
        for key, module in (self._modules or {}).items():
            if module.mark() == self._marks.get(key):
                continue  # its fields hold what they held when built: nothing to compare
            edited = edited_layer(module)
            if edited is not None:
                layers[edited.name] = edited
        lora = self._lora
        if any(layers[k] is not v for k, v in lora.layers.items()):
            lora = type(lora)(lora.info, layers, f"{lora.identity}|edited-{next(_edits)}")
        return lora, float(self.te_multiplier), float(self.unet_multiplier)


class BatchNetworks:
    """The running batch's LoRAs on `model`, as Networks extensions may change."""

    def __init__(self, model, applied):
        self.model, self.applied = model, tuple(applied)
        self.networks = [BatchNetwork(lora, te, unet, model) for lora, te, unet in self.applied]
        self.loaded = list(self.networks)  # the list extensions get (they may clear it: that unloads nothing)

    def sync(self) -> bool:
        """Patch the networks in again when an extension changed them; True when it did."""
        now = tuple(net.as_applied() for net in self.networks)
        if all(a[0] is b[0] and a[1:] == b[1:] for a, b in zip(now, self.applied)):
            return False
        self.applied = now
        for net, (lora, _, _) in zip(self.networks, now):
            net.rebase(lora)
        for message in binding.app().services.models.apply_loras(self.model, list(now)):
            log.warning(message)
        return True


_running: dict[int, BatchNetworks] = {}  # id(App) → its running batch's networks


def begin(model) -> BatchNetworks | None:
    """The batch's LoRAs (just activated on `model`) as Networks, until `end`."""
    app = binding.app()
    _running.pop(id(app), None)
    if model is None:
        return None
    _running[id(app)] = batch = BatchNetworks(model, app.services.models.last_applied_loras())
    return batch


def sync() -> bool:
    """Patch in what extensions changed on the running batch's Networks (True when something was)."""
    batch = _running.get(id(binding.app()))
    return batch.sync() if batch is not None else False


def end() -> None:
    _running.pop(id(binding.app()), None)


def running() -> list | None:
    """The running batch's list of Networks, or None outside a batch."""
    batch = _running.get(id(binding.app())) if binding.is_bound() else None
    return batch.loaded if batch is not None else None
