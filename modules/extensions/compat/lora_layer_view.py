"""A1111's per-layer objects of a LoRA (`Network.modules`): NetworkModuleLora (up_model, down_model), NetworkModuleHada
(w1a, w1b, w2a, w2b) and NetworkModuleLokr (w1, w1a, … w2b), under A1111's layer names (`diffusion_model_…`,
`transformer_text_model_…`), over copies of one of Easel's LoraLayers. Extensions change them between activation and
sampling (sd-webui-lora-block-weight scales `up_model.weight` per UNet block); `edited_layer` reads a changed one
back as a LoraLayer for Easel's patching (modules/models/lora.py)."""
from __future__ import annotations

import re
import weakref
from abc import ABC, abstractmethod

import torch

from modules.models.ldm_layout import UNET_PREFIX, unet_key_to_ldm
from modules.models.lora import LoraLayer

# the attribute of A1111's module class → Easel's tensor name, per layer kind
_FIELDS = {
    "loha": {"w1a": "hada_w1_a", "w1b": "hada_w1_b", "w2a": "hada_w2_a", "w2b": "hada_w2_b"},
    "lokr": {"w1": "lokr_w1", "w1a": "lokr_w1_a", "w1b": "lokr_w1_b", "w2": "lokr_w2", "w2a": "lokr_w2_a",
             "w2b": "lokr_w2_b"},
}
_TE_LAYER = re.compile(r"lora_te(2?)_text_model_encoder_layers_(\d+)_(.+)")
_OPEN_CLIP_NAMES = (("mlp_fc1", "mlp_c_fc"), ("mlp_fc2", "mlp_c_proj"), ("self_attn", "attn"))
_unet_names: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # UNet → {module: A1111 layer name}


def _open_clip(rest: str) -> str:
    for hf, open_clip in _OPEN_CLIP_NAMES:
        if hf in rest:
            return rest.replace(hf, open_clip)
    return rest


def _unet_layer_names(unet) -> dict:
    """Each Linear/Conv2d of a diffusers UNet → its A1111 name (`diffusion_model_` + ldm's path with `_`)."""
    if unet not in _unet_names:
        names = {}
        for name, module in unet.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                try:
                    ldm = unet_key_to_ldm(name + ".weight", unet.config).removeprefix(UNET_PREFIX)
                except KeyError:
                    continue
                names[module] = "diffusion_model_" + ldm.removesuffix(".weight").replace(".", "_")
        _unet_names[unet] = names
    return _unet_names[unet]


def a1111_layer_name(kohya: str, module: torch.nn.Module | None, model, is_sd2: bool) -> str:
    """The key A1111's Lora extension files a layer under in `Network.modules`: the UNet layer's ldm path, the text
    encoder's own module path (`transformer_text_model_…`; SD 2.x and SDXL's second encoder: open_clip's
    `…model_transformer_resblocks_…`; SDXL's first: `0_transformer_text_model_…`); other names as written."""
    if kohya.startswith("lora_unet_"):
        found = _unet_layer_names(model.unet).get(module) if module is not None else None
        return found or kohya.replace("lora_unet", "diffusion_model", 1)
    if kohya.startswith("lora_te1_text_model_"):
        return "0_transformer_text_model_" + kohya.removeprefix("lora_te1_text_model_")
    m = _TE_LAYER.fullmatch(kohya)
    if m is None:
        return kohya
    second, layer, rest = m.groups()
    if second:
        return f"1_model_transformer_resblocks_{layer}_{_open_clip(rest)}"
    if is_sd2:
        return f"model_transformer_resblocks_{layer}_{_open_clip(rest)}"
    return f"transformer_text_model_encoder_layers_{layer}_{rest}"


def _weight_module(weight: torch.Tensor) -> torch.nn.Module:
    """A1111's up/down model: a bias-free Linear ([out, in]) or Conv2d ([out, in, k, k]) holding `weight`."""
    if weight.ndim == 4:
        out_ch, in_ch, kh, kw = weight.shape
        module: torch.nn.Module = torch.nn.utils.skip_init(torch.nn.Conv2d, in_ch, out_ch, (kh, kw), bias=False)
    else:
        module = torch.nn.utils.skip_init(torch.nn.Linear, weight.shape[1], weight.shape[0], bias=False)
    module.weight = torch.nn.Parameter(weight, requires_grad=False)
    return module


class NetworkModule(ABC):
    """What every A1111 layer object has: its network, names, the patched module, alpha and rank."""

    def __init__(self, network, layer: LoraLayer, sd_key: str, sd_module):
        self.network, self.layer = network, layer
        self.network_key, self.sd_key, self.sd_module = layer.name, sd_key, sd_module
        self.shape = tuple(sd_module.weight.shape) if sd_module is not None else None
        self.alpha, self.dim = layer.alpha, layer.rank
        self.scale = layer.scale

    def multiplier(self) -> float:
        """The te or unet multiplier of its network, as A1111 tells the two apart (the text encoder's names)."""
        te = "transformer" in self.sd_key[:20]
        return self.network.te_multiplier if te else self.network.unet_multiplier

    @abstractmethod
    def tensors(self) -> dict[str, torch.Tensor]:
        """Easel's tensor names → the current values of this object's fields."""

    @abstractmethod
    def held(self) -> tuple:
        """The objects its fields hold now (a field set anew, or changed in place, gives another `mark`)."""

    def mark(self) -> tuple:
        """Which objects its fields hold, and how often each was changed in place: cheap to compare."""
        return tuple((id(t), getattr(t, "_version", 0)) for t in self.held())


class NetworkModuleLora(NetworkModule):
    def __init__(self, network, layer: LoraLayer, sd_key: str, sd_module):
        super().__init__(network, layer, sd_key, sd_module)
        self.up_model = _weight_module(layer.tensors["up"].clone())
        self.down_model = _weight_module(layer.tensors["down"].clone())
        self.mid_model = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"up": self.up_model.weight.detach(), "down": self.down_model.weight.detach()}

    def held(self) -> tuple:
        return self.up_model.weight, self.down_model.weight


class _FieldModule(NetworkModule):
    kind = ""

    def __init__(self, network, layer: LoraLayer, sd_key: str, sd_module):
        super().__init__(network, layer, sd_key, sd_module)
        for field, name in _FIELDS[self.kind].items():
            value = layer.tensors.get(name)
            setattr(self, field, None if value is None else value.clone())

    def tensors(self) -> dict[str, torch.Tensor]:
        found = {name: getattr(self, field) for field, name in _FIELDS[self.kind].items()}
        return {name: torch.as_tensor(v).detach() for name, v in found.items() if v is not None}

    def held(self) -> tuple:
        return tuple(getattr(self, field) for field in _FIELDS[self.kind])


class NetworkModuleHada(_FieldModule):
    kind = "loha"


class NetworkModuleLokr(_FieldModule):
    kind = "lokr"


_CLASSES = {"lora": NetworkModuleLora, "loha": NetworkModuleHada, "lokr": NetworkModuleLokr}


def layer_modules(network, lora, model, is_sd2: bool) -> dict[str, NetworkModule]:
    """A1111's `Network.modules` for the LoraNetwork `lora` applied to `model`: A1111 layer name → layer object."""
    table = model.lora_module_map()
    modules = {}
    for layer in lora.layers.values():
        target = table.get(layer.name)
        module = target[1] if target is not None else None
        key = a1111_layer_name(layer.name, module, model, is_sd2)
        modules[key] = _CLASSES[layer.kind](network, layer, key, module)
    return modules


def edited_layer(module: NetworkModule) -> LoraLayer | None:
    """The layer as the object now holds it, or None when nothing was changed."""
    now = module.tensors()
    original = module.layer.tensors
    if all(name in original and value.shape == original[name].shape and torch.equal(value, original[name])
           for name, value in now.items()):
        return None
    return LoraLayer(module.layer.name, module.layer.kind, {**original, **now}, module.layer.alpha)
