"""Load a ControlNet file or folder into a diffusers `ControlNetModel` for one checkpoint, and check that it fits.

Files are opened as checkpoints are (`modules/models/safe_load.py`): safetensors by our reader, `.pth`/`.pt`/`.ckpt`/
`.bin` through the restricted unpickler, so a malicious pickle is refused with the file named and nothing in it runs
(docs/security.md). The architecture comes from the yaml beside an original-layout file, from `config.json` in a
diffusers folder, or else from the checkpoint's own UNet (modules/controlnet/convert.py).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from modules.controlnet import convert
from modules.controlnet.shapes import cross_width, family_name, read_encoder, unet_family
from modules.errors import InvalidInput, ModelLoadError

if TYPE_CHECKING:
    from diffusers import ControlNetModel

DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass(eq=False)
class LoadedControlNet:
    """A ControlNet ready to run: the network, where it came from, and the yaml's global average pooling (shuffle)."""

    name: str  # the listed name, e.g. "control_v11p_sd15_canny [d14c016b]"
    path: Path
    net: ControlNetModel  # eval mode, no grad
    global_average_pooling: bool = False

    @property
    def cross_attention_dim(self) -> int:
        return int(self.net.config.cross_attention_dim)

    @property
    def in_channels(self) -> int:
        return int(self.net.config.in_channels)

    @property
    def has_cross_attention(self) -> bool:
        """False for encoders without text attention (SDXL's small ControlNets): their text width is moot."""
        return any(name.endswith("attn2") for name, _ in self.net.named_modules())

    def place(self, device) -> None:
        """Keep the network on `device` (the sampler's, or the CPU between calls with Low VRAM)."""
        if self.net.device != torch.device(device):
            self.net.to(device)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, hint: torch.Tensor,
                 added_cond_kwargs: dict[str, torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Residuals for latents x [B,C,h,w] at timesteps t [B] with context [B,L,D] and hint [B,3,8h,8w]: the
        encoder's outputs then the middle block's, each [B, c_i, h_i, w_i], float32, unscaled. SDXL ControlNets also
        take the UNet's `added_cond_kwargs` (pooled text [B, P] and time ids [B, 6])."""
        net = self.net
        dtype = net.dtype
        extra = {}
        if added_cond_kwargs is not None:
            extra["added_cond_kwargs"] = {k: v.to(net.device, dtype) for k, v in added_cond_kwargs.items()}
        down, mid = net(x.to(net.device, dtype), t.to(net.device), encoder_hidden_states=context.to(net.device, dtype),
                        controlnet_cond=hint.to(net.device, dtype), conditioning_scale=1.0, return_dict=False,
                        **extra)
        return [r.float() for r in (*down, mid)]


def open_tensors(path: Path, disable_safe_unpickle: bool = False):
    """A TensorSource for a ControlNet weights file (restricted unpickling for pickles)."""
    from modules.models.safe_load import open_checkpoint

    return open_checkpoint(path, disable_safe_unpickle)


def weights_file(path: Path) -> Path:
    """The weights file of a ControlNet entry: the file itself, or a diffusers folder's weights."""
    if path.is_dir():
        for name in DIFFUSERS_WEIGHTS:
            if (path / name).is_file():
                return path / name
        raise ModelLoadError(str(path), f"a diffusers ControlNet folder needs one of {', '.join(DIFFUSERS_WEIGHTS)}")
    return path


def load_controlnet(path: Path | str, name: str, unet_config, dtype: torch.dtype, device,
                    disable_safe_unpickle: bool = False) -> LoadedControlNet:
    """Build the ControlNet at `path` (file or diffusers folder); `unet_config` is the checkpoint UNet's config,
    the architecture when the file brings none."""
    from accelerate import init_empty_weights
    from diffusers import ControlNetModel

    from modules.models.safe_load import LazyStateDict

    path = Path(path)
    source = open_tensors(weights_file(path), disable_safe_unpickle)
    try:
        try:
            layout, prefix = convert.file_layout(source.keys())
        except ValueError as e:
            raise ModelLoadError(str(path), str(e)) from None
        config, pooling = architecture(path, source, layout, prefix, unet_config)
        with init_empty_weights(include_buffers=False):
            net = ControlNetModel(**config)
        weights: Mapping[str, torch.Tensor] = LazyStateDict(source, dtype, device, prefix=prefix)
        if layout == "original":
            weights = convert.convert_original(weights, config, str(path))
        assign(net, weights, path)
    finally:
        source.close()
    return LoadedControlNet(name, path, net, pooling)


def architecture(path: Path, source, layout: str, prefix: str, unet_config) -> tuple[dict, bool]:
    """(ControlNetModel config, global average pooling): yaml beside the file, config.json, or the UNet's."""
    import yaml

    if path.is_dir():
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelLoadError(str(path), f"unreadable config.json ({e})") from None
        params = convert.controlnet_params()
        return {k: v for k, v in config.items() if k in params}, bool(config.get("global_pool_conditions"))
    beside = path.with_suffix(".yaml")
    if layout == "original" and beside.is_file():
        try:
            original = yaml.safe_load(beside.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ModelLoadError(str(beside), f"unreadable yaml ({e})") from None
        return convert.config_from_yaml(original, str(beside))
    names = source.keys()
    shapes = {k: source.shape(k) for k in names}
    check_family(read_encoder(shapes, layout, prefix).family, unet_family(unet_config), path)
    width, expected = cross_width(shapes), unet_config.get("cross_attention_dim")
    if width is not None and expected is not None and width != int(expected):
        raise ModelLoadError(str(path), f"is a ControlNet for another model family (cross-attention width {width}; "
                                        f"the loaded checkpoint uses {expected})")
    pooling = "shuffle" in path.stem.lower()  # the extension's rule for files without a yaml
    config = convert.config_from_shapes(shapes, layout, prefix, unet_config, str(path))
    ours, theirs = list(config["block_out_channels"]), list(unet_config.get("block_out_channels", []))
    if ours != theirs:
        raise ModelLoadError(str(path), f"is a ControlNet for another model family (encoder channels {ours}; the "
                                        f"loaded checkpoint has {theirs})")
    return config, pooling


def family_problem(control: str, checkpoint: str, checkpoint_name: str = "the loaded checkpoint") -> str | None:
    """Why a ControlNet of family `control` cannot steer a `checkpoint` model, or None: an SDXL ControlNet reads the
    pooled text and size embeddings only SDXL checkpoints give, and an SD 1.x/2.x one cannot take them.

    >>> family_problem("sdxl", "sd", "v1-5.safetensors")
    'is an SDXL ControlNet; v1-5.safetensors is an SD 1.x/2.x model (choose a ControlNet made for SD 1.x/2.x)'
    >>> family_problem("sdxl", "sdxl") is None
    True
    """
    if control == checkpoint:
        return None
    return (f"is an {family_name(control)} ControlNet; {checkpoint_name} is an {family_name(checkpoint)} model "
            f"(choose a ControlNet made for {family_name(checkpoint)})")


def check_family(control: str, checkpoint: str, path: Path) -> None:
    problem = family_problem(control, checkpoint)
    if problem is not None:
        raise ModelLoadError(str(path), problem)


def assign(net, weights, path: Path) -> None:
    """Converted tensors into the empty network; a misfit names the file."""
    try:
        net.load_state_dict(dict(weights), strict=True, assign=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        detail = detail if len(detail) < 600 else detail[:600] + " …"
        raise ModelLoadError(str(path), f"its weights do not fit the ControlNet architecture (a same-name .yaml "
                                        f"beside the file sets it): {detail}") from None
    empty = [n for n, p in [*net.named_parameters(), *net.named_buffers()] if p.is_meta]
    if empty:
        raise ModelLoadError(str(path), f"ControlNet weights missing: {', '.join(empty[:5])}")
    net.eval().requires_grad_(False)


def check_fits(control: LoadedControlNet, unet, checkpoint: str, field: str) -> None:
    """A ControlNet must read the checkpoint's text width and add to its encoder's channels; else it was made for
    another model family, which `field` (the unit's model field) and both files are named for."""
    unet_config = unet.config
    problem = family_problem(unet_family(control.net.config), unet_family(unet_config), checkpoint)
    if problem is not None:
        raise InvalidInput(field, f"ControlNet {control.path.name} {problem}")
    added = control.net.config.get("projection_class_embeddings_input_dim")
    if added != unet_config.get("projection_class_embeddings_input_dim"):
        raise InvalidInput(field, f"ControlNet {control.path.name} is for another model family (added conditioning "
                                  f"width {added}; {checkpoint} takes "
                                  f"{unet_config.get('projection_class_embeddings_input_dim')})",
                           "a ControlNet made for the loaded checkpoint's family")
    width, expected = control.cross_attention_dim, int(unet_config.cross_attention_dim)
    if width != expected and control.has_cross_attention:
        raise InvalidInput(field, f"ControlNet {control.path.name} is for another model family (cross-attention "
                                  f"width {width}; {checkpoint} uses {expected})",
                           "a ControlNet made for the loaded checkpoint's family")
    ours, theirs = list(control.net.config.block_out_channels), list(unet_config.block_out_channels)
    if ours != theirs:
        raise InvalidInput(field, f"ControlNet {control.path.name} is for another model family (encoder channels "
                                  f"{ours}; {checkpoint} has {theirs})",
                           "a ControlNet made for the loaded checkpoint's family")
