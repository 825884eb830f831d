"""LoRA (Hu et al. 2021, "Low-Rank Adaptation") files in kohya's layout, and patching them into a LoadedModel.

A kohya file holds, per adapted layer `lora_{unet,te}_<module path with _>`, `.lora_down.weight` [r, in(, k, k)],
`.lora_up.weight` [out, r(, 1, 1)] and `.alpha`; the layer's weight becomes W + m · (alpha / r) · up @ down with m
the prompt's te/unet multiplier. UNet paths may be in the original LDM naming (`input_blocks_1_1_proj_in`) or in
diffusers' (`down_blocks_0_attentions_0_proj_in`); both resolve to our diffusers modules. LyCORIS LoHa
(Hyeon-Woo et al. 2022, Hadamard product of two low-rank pairs) and LoKr (Kronecker product) layers are read too,
and so are the other spellings few-step LoRAs circulate in (kohya names with PEFT's lora_A/lora_B parts, diffusers'
and PEFT's `unet.…` keys; docs/few-step-models.md). A LoRA made for another model family is refused before any
weight changes (`lora_family.py`).

Patching belongs to the ModelManager (the sole owner of weights): `AppliedLoras` keeps a copy of every weight it
changes and restores it bit for bit, so nothing drifts however many generations run. Finding and reading the
files is `lora_library.py`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from modules.errors import ModelLoadError
from modules.models.fp8 import is_fp8, lora_base
from modules.models.ldm_layout import UNET_PREFIX, unet_key_to_ldm
from modules.models.lora_family import check_family

# The layers a LoRA patches (`lora_module_map` lists only these): each has a `weight` tensor.
PatchedModule = torch.nn.Linear | torch.nn.Conv2d
_KEY = re.compile(r"^(lora_(?:unet|te\d?)_[A-Za-z0-9_]+?)\.(.+)$")  # te1/te2: models with two text encoders
_LORA_PARTS = {"lora_up.weight": "up", "lora_down.weight": "down", "lora_mid.weight": "mid",
               "lora_B.weight": "up", "lora_A.weight": "down"}  # kohya names with PEFT's parts, as A1111 reads
_LOHA_PARTS = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b")
_LOKR_PARTS = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b")
_DIFFUSERS_KEY = re.compile(r"^(unet|text_encoder(?:_2)?)\.(.+?)(?:\.processor\.(to_q|to_k|to_v|to_out)_lora)?"
                            r"\.(?:lora\.(down|up)|lora_([AB])|(down|up))\.weight$")


# ---- layers --------------------------------------------------------------------------------------------------

@dataclass
class LoraLayer:
    """One adapted layer: `kind` lora | loha | lokr, its tensors by short name, and alpha (None: scale 1)."""

    name: str
    kind: str
    tensors: dict[str, torch.Tensor]
    alpha: float | None = None

    @property
    def rank(self) -> int:
        t = self.tensors
        if self.kind == "lora":
            return int(t["down"].shape[0])
        if self.kind == "loha":
            return int(t["hada_w1_b"].shape[0])
        factor = next((t[k] for k in ("lokr_w1_b", "lokr_w2_b") if k in t), None)
        return int(factor.shape[0]) if factor is not None else 1

    @property
    def scale(self) -> float:
        """alpha / rank (kohya); 1.0 without alpha, and for LoKr with full (not factored) matrices."""
        full_lokr = self.kind == "lokr" and "lokr_w1_b" not in self.tensors and "lokr_w2_b" not in self.tensors
        return 1.0 if self.alpha is None or full_lokr else self.alpha / self.rank

    def delta_2d(self) -> tuple[int, int]:
        """The update's size as a matrix [out, in·k·k], from the tensor shapes alone (nothing computed)."""
        t = {k: v.shape for k, v in self.tensors.items()}
        if self.kind == "lora":
            return t["up"][0], torch.Size(t["down"][1:]).numel()
        if self.kind == "loha":
            return t["hada_w1_a"][0], torch.Size(t["hada_w1_b"][1:]).numel()
        w1 = t["lokr_w1"] if "lokr_w1" in t else (t["lokr_w1_a"][0], t["lokr_w1_b"][1])
        w2 = (t["lokr_w2"][0], torch.Size(t["lokr_w2"][1:]).numel()) if "lokr_w2" in t else \
            (t["lokr_w2_a"][0], torch.Size(t["lokr_w2_b"][1:]).numel())
        return w1[0] * w2[0], w1[1] * w2[1]

    def fits(self, shape: torch.Size) -> bool:
        """Whether the update has the weight's size (a Tucker-factored `lora_mid` never does: unsupported)."""
        if "mid" in self.tensors:
            return False
        out, inner = self.delta_2d()
        return len(shape) >= 2 and shape[0] == out and torch.Size(shape[1:]).numel() == inner

    @torch.no_grad()
    def add_to(self, weight: torch.Tensor, factor: float) -> None:
        """weight += factor · ΔW in place; a plain LoRA as one fused `addmm_` in the weight's dtype (fp32
        accumulation inside the kernel), without materialising a float32 copy of the weight."""
        if self.kind == "lora" and weight.is_contiguous():
            up = (self.tensors["up"].flatten(1).to(weight.device, torch.float32) * factor).to(weight.dtype)
            down = self.tensors["down"].flatten(1).to(weight.device, weight.dtype)  # [r, in·k·k]
            weight.view(weight.shape[0], -1).addmm_(up, down)  # [out, in·k·k]
            return
        delta = self.delta(weight.shape, weight.device) * factor  # float32
        weight.copy_((weight.float() + delta).to(weight.dtype))

    def delta(self, shape: torch.Size, device=None) -> torch.Tensor:
        """The unscaled weight update ΔW, float32, reshaped to the target weight's `shape` (the reference form;
        patching uses `add_to`)."""
        t = {k: v.to(device=device, dtype=torch.float32) for k, v in self.tensors.items()}
        if self.kind == "lora":
            up, down = t["up"].flatten(1), t["down"].flatten(1)  # [out, r], [r, in·k·k]
            delta = up @ down  # [out, in·k·k]
        elif self.kind == "loha":
            delta = (t["hada_w1_a"] @ t["hada_w1_b"].flatten(1)) * (t["hada_w2_a"] @ t["hada_w2_b"].flatten(1))
        else:
            w1 = t["lokr_w1"] if "lokr_w1" in t else t["lokr_w1_a"] @ t["lokr_w1_b"]
            w2 = t["lokr_w2"] if "lokr_w2" in t else t["lokr_w2_a"] @ t["lokr_w2_b"].flatten(1)
            delta = torch.kron(w1, w2.flatten(1)) if w2.ndim > 2 else torch.kron(w1, w2)
        if delta.numel() != torch.Size(shape).numel():
            raise ValueError(f"update of shape {tuple(delta.shape)} does not fit weight {tuple(shape)}")
        return delta.reshape(shape)


def _layer_kind(parts: dict[str, torch.Tensor]) -> str | None:
    if "up" in parts or "down" in parts:
        return "lora"
    if any(p in parts for p in _LOHA_PARTS):
        return "loha"
    if any(p in parts for p in _LOKR_PARTS):
        return "lokr"
    return None


def _check_layer(layer: LoraLayer) -> str | None:
    """What is wrong with a layer's tensors, or None."""
    t = layer.tensors
    needed = {"lora": ("up", "down"), "loha": _LOHA_PARTS}.get(layer.kind, ())
    missing = [n for n in needed if n not in t]
    if layer.kind == "lokr" and not (("lokr_w1" in t or {"lokr_w1_a", "lokr_w1_b"} <= set(t))
                                     and ("lokr_w2" in t or {"lokr_w2_a", "lokr_w2_b"} <= set(t))):
        missing = ["lokr_w1/lokr_w2 (or their _a/_b factors)"]
    if missing:
        return f"layer {layer.name} lacks {', '.join(missing)}"
    if layer.kind == "lora" and t["up"].shape[1] != t["down"].shape[0]:
        return (f"layer {layer.name}: lora_up {tuple(t['up'].shape)} and lora_down {tuple(t['down'].shape)} "
                "have different ranks")
    return None


def kohya_key(key: str) -> str:
    """A diffusers/PEFT LoRA key (`unet.….lora_A.weight`, `….lora.down.weight`, attention-processor
    `….processor.to_q_lora.up.weight`) in kohya's spelling; other keys unchanged.

    >>> kohya_key("unet.down_blocks.0.attentions.0.proj_in.lora_A.weight")
    'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight'
    >>> kohya_key("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight")
    'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0.lora_up.weight'
    >>> kohya_key("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora.up.weight")
    'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight'
    >>> kohya_key("text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_B.weight")
    'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight'
    """
    m = _DIFFUSERS_KEY.match(key)
    if m is None:
        return key
    root, module, processor, lora_dir, peft, bare = m.groups()
    if processor:
        module += "." + ("to_out.0" if processor == "to_out" else processor)
    elif bare:
        return key  # `….down.weight` without a LoRA marker is an ordinary layer, not ours to rename
    direction = lora_dir or bare or ("down" if peft == "A" else "up")
    prefix = {"unet": "lora_unet_", "text_encoder": "lora_te_", "text_encoder_2": "lora_te2_"}[root]
    return f"{prefix}{module.replace('.', '_')}.lora_{direction}.weight"


def parse_lora(state_dict: dict[str, torch.Tensor], path: Path | str) -> dict[str, LoraLayer]:
    """Group a kohya/LyCORIS (or diffusers/PEFT) state dict into layers; a file we cannot read as one is a
    ModelLoadError."""
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state_dict.items():
        m = _KEY.match(kohya_key(key))
        if m is None:
            continue
        module, part = m.groups()
        part = _LORA_PARTS.get(part, part.removesuffix(".weight"))
        grouped.setdefault(module, {})[part] = tensor
    if any(m.startswith("lora_te2_") for m in grouped):  # a second text encoder: the first is kohya's te1
        grouped = {"lora_te1_" + m.removeprefix("lora_te_") if m.startswith("lora_te_") else m: v
                   for m, v in grouped.items()}
    layers = {}
    for module, parts in grouped.items():
        alpha = parts.pop("alpha", None)
        kind = _layer_kind(parts)
        if kind is None:
            continue  # e.g. a `dora_scale` or bias-only entry: nothing we apply
        layer = LoraLayer(module, kind, parts, float(alpha.float().item()) if alpha is not None else None)
        problem = _check_layer(layer)
        if problem:
            raise ModelLoadError(str(path), f"malformed LoRA: {problem}")
        layers[module] = layer
    if not layers:
        sample = ", ".join(list(state_dict)[:3]) or "no tensors"
        raise ModelLoadError(str(path), f"no LoRA layers found (expected kohya keys like "
                                        f"lora_unet_….lora_up.weight; the file has {sample})")
    return layers


# ---- parsed files -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoraInfo:
    """A LoRA file on disk: `name` is its stem (what `<lora:name:…>` uses), `alias` kohya's `ss_output_name`."""

    name: str
    path: Path
    alias: str
    metadata: dict = field(default_factory=dict, compare=False)

    def api_info(self) -> dict:
        return {"name": self.name, "alias": self.alias, "path": str(self.path), "metadata": dict(self.metadata)}


@dataclass(eq=False)
class LoraNetwork:
    """A parsed LoRA file; `identity` changes when the file does (part of the conditioning cache key)."""

    info: LoraInfo
    layers: dict[str, LoraLayer]
    identity: str


# ---- mapping kohya names onto our modules ---------------------------------------------------------------------

def _flat(name: str) -> str:
    return name.replace(".", "_")


def module_map(model) -> dict[str, tuple[str, torch.nn.Module]]:
    """kohya layer name → ("te" | "unet", module) for every Linear/Conv2d of the text encoder and UNet.

    >>> from diffusers import UNet2DConditionModel
    >>> class M: pass
    >>> m = M(); m.text_encoder = torch.nn.Module(); m.unet = UNet2DConditionModel(block_out_channels=(32, 64),
    ...     down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D",
    ...     "CrossAttnUpBlock2D"), layers_per_block=1, cross_attention_dim=32, norm_num_groups=8, sample_size=8)
    >>> table = module_map(m)
    >>> table["lora_unet_input_blocks_1_1_proj_in"] == table["lora_unet_down_blocks_0_attentions_0_proj_in"]
    True
    """
    table: dict[str, tuple[str, torch.nn.Module]] = {}
    for name, module in model.text_encoder.named_modules():
        if isinstance(module, torch.nn.Linear):
            bare = name.removeprefix("text_model.")
            for alias in (bare, "text_model." + bare):
                table["lora_te_" + _flat(alias)] = ("te", module)
    config = model.unet.config
    for name, module in model.unet.named_modules():
        if not isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            continue
        table["lora_unet_" + _flat(name)] = ("unet", module)
        try:
            ldm = unet_key_to_ldm(name + ".weight", config).removeprefix(UNET_PREFIX).removesuffix(".weight")
        except KeyError:
            continue
        table["lora_unet_" + _flat(ldm)] = ("unet", module)
    return table


# ---- patching ------------------------------------------------------------------------------------------------

def plan_updates(loras: Sequence[tuple[LoraNetwork, float, float]], table):
    """Which layer updates go into which module, with their factor (multiplier · scale), checked against the
    module's weight shape without computing anything: ({module: [(layer, factor)]}, warnings)."""
    updates: dict[PatchedModule, list[tuple[LoraLayer, float]]] = {}
    warnings: list[str] = []
    for network, te_weight, unet_weight in loras:
        missed, misfit = [], []
        for layer in network.layers.values():
            target = table.get(layer.name)
            if target is None:
                missed.append(layer.name)
                continue
            part, module = target
            weight = te_weight if part == "te" else unet_weight
            if not layer.fits(module.weight.shape):
                misfit.append(layer.name)
            elif weight != 0:
                updates.setdefault(module, []).append((layer, weight * layer.scale))
        warnings += _fit_warnings(network, missed, misfit)
    return updates, warnings


def _fit_warnings(network: LoraNetwork, missed: list[str], misfit: list[str]) -> list[str]:
    total, name = len(network.layers), network.info.name
    if len(missed) + len(misfit) == total:
        return [f"LoRA {name} does not fit this model: none of its {total} layers match (made for another "
                f"model family?)"]
    notes = []
    if missed:
        notes.append(f"LoRA {name}: {len(missed)} of {total} layers have no matching layer here, e.g. {missed[0]}")
    if misfit:
        notes.append(f"LoRA {name}: {len(misfit)} of {total} layers have other shapes here (or an unsupported "
                     f"form), e.g. {misfit[0]}")
    return notes


def _add_to_fp8(module: PatchedModule, layers: list) -> None:
    """An FP8 layer's LoRAs: every delta summed onto its float32 base (the 16-bit copy when the model keeps one,
    A1111's "Cache FP16 weight for LoRA"), then rounded to FP8 once."""
    total = lora_base(module)  # float32, the weight's shape
    for layer, factor in layers:
        layer.add_to(total, factor)
    module.weight.copy_(total.to(module.weight.dtype))


class AppliedLoras:
    """The LoRAs patched into one model, with the original weight of every changed module."""

    def __init__(self, model):
        self.model = model
        self.signature: tuple = ()
        # (network, te, unet) of the last `apply`, kept after `restore`: what the last generation used
        self.last_applied: tuple[tuple[LoraNetwork, float, float], ...] = ()
        self.text_key = ""  # non-empty while the text encoder carries LoRA weights
        self._backups: dict[PatchedModule, torch.Tensor] = {}
        self._table = None

    @torch.no_grad()
    def apply(self, loras: Sequence[tuple[LoraNetwork, float, float]]) -> list[str]:
        """Patch exactly `loras` in (restoring first when a different set is in); returns warnings."""
        signature = tuple((n.identity, float(te), float(unet)) for n, te, unet in loras)
        self.last_applied = tuple((n, float(te), float(unet)) for n, te, unet in loras)
        if signature == self.signature:
            return []
        if self._table is None:
            self._table = self.model.lora_module_map()  # the family engine's kohya key map
        for network, te, unet in loras:  # another family's LoRA: refused before any weight changes
            if te or unet:
                check_family(network, self._table)
        self.restore()
        updates, warnings = plan_updates(loras, self._table)
        te_modules = {m for part, m in self._table.values() if part == "te"}
        for module, layers in updates.items():  # one module at a time: peak memory is one weight's copy
            self._backups[module] = module.weight.detach().clone()
            if is_fp8(module):
                _add_to_fp8(module, layers)
            else:
                for layer, factor in layers:
                    layer.add_to(module.weight, factor)
        self.signature = signature
        if any(m in te_modules for m in updates):
            self.text_key = "|lora:" + ",".join(f"{n.identity}*{te}" for n, te, _ in loras if te)
        return warnings

    @torch.no_grad()
    def restore(self) -> None:
        """Every patched weight back to its original bits."""
        for module, original in self._backups.items():
            module.weight.copy_(original)
        self._backups.clear()
        self.signature, self.text_key = (), ""
