"""How a loaded model stores its weights: A1111's "FP8 weight" settings (`fp8_storage`, `cache_fp16_weight`) as
plain values (no torch: the request layer and the model manager's callers import this).

With FP8 on, every `Linear` and `Conv2d` weight (and bias) of the UNet and the text encoders is kept as 8-bit
float (e4m3) and widened to the compute dtype as each layer runs, halving their memory against 16-bit weights; the
VAE keeps its own precision, as in A1111 (`modules/models/fp8.py` does the storing).
"""
from __future__ import annotations

from dataclasses import dataclass

from modules.errors import InvalidInput

FP8_MODES = ("Disable", "Enable for SDXL", "Enable")


@dataclass(frozen=True)
class WeightStorage:
    """What one loaded model holds: FP8 layers or not, and whether it also keeps a 16-bit copy of each FP8 weight
    for LoRA (A1111's "Cache FP16 weight for LoRA": LoRA deltas then land on the exact weight)."""

    fp8: bool = False
    lora_copy: bool = False

    def infotext(self, mode: str) -> dict[str, object]:
        """A1111's entries when a model ran with FP8 weights (`mode`: the setting's value); none otherwise.

        >>> WeightStorage(True).infotext("Enable"), WeightStorage().infotext("Enable")
        ({'FP8 weight': 'Enable', 'Cache FP16 weight for LoRA': False}, {})
        """
        return {"FP8 weight": mode, "Cache FP16 weight for LoRA": self.lora_copy} if self.fp8 else {}


FULL_WEIGHTS = WeightStorage()


@dataclass(frozen=True)
class Fp8Setting:
    """The settings' values; which storage a model gets depends on its family ("Enable for SDXL")."""

    mode: str = "Disable"
    cache_copy: bool = False

    def __post_init__(self):
        if self.mode not in FP8_MODES:
            raise InvalidInput("fp8_storage", f"unknown mode {self.mode!r}", ", ".join(FP8_MODES))

    def storage_for(self, is_sdxl: bool) -> WeightStorage:
        """The storage of a model of this family.

        >>> Fp8Setting("Enable for SDXL").storage_for(False), Fp8Setting("Enable for SDXL", True).storage_for(True)
        (WeightStorage(fp8=False, lora_copy=False), WeightStorage(fp8=True, lora_copy=True))
        """
        on = self.mode == "Enable" or (self.mode == "Enable for SDXL" and is_sdxl)
        return WeightStorage(True, bool(self.cache_copy)) if on else FULL_WEIGHTS


def fp8_setting(opts) -> Fp8Setting:
    """From a settings snapshot or the option store (either answers `.get(key)`)."""
    return Fp8Setting(str(opts.get("fp8_storage")), bool(opts.get("cache_fp16_weight")))
