"""ldm's `input_blocks` and `output_blocks` of `shared.sd_model.model.diffusion_model`, over Easel's diffusers UNet.

ldm's UNet runs a list of blocks, each called as `block(h, emb, context)`; extensions put their own module in a slot
(`diffusion_model.input_blocks[3] = Wrapper(scale, diffusion_model.input_blocks[3])`, sd-webui-kohya-hiresfix
shrinks the latent before a block and grows it back after the matching output block) and put the original back
later. Here each slot is a block view naming the diffusers layers that make that ldm block (a resnet and its
attention, a downsampler, an up block's resnet, attention and upsampler). While a slot holds another module, the
UNet's call of the block's first layer calls that module with (h, emb, context) and the block's other layers pass
their input through; the block view itself, called, runs the block's own layers. Putting the slot's view back
restores the layers.
"""
from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator

import torch

_context: contextvars.ContextVar[torch.Tensor | None] = contextvars.ContextVar("unet_context", default=None)
_lists: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # UNet → (input_blocks, output_blocks)


class Block:
    """One ldm block as diffusers layers `parts` (first the one the UNet calls with the block's input)."""

    def __init__(self, parts: list[torch.nn.Module]):
        self.parts = parts

    def __call__(self, x: torch.Tensor, emb: torch.Tensor | None = None, context: torch.Tensor | None = None):
        for part in self.parts:
            x = _run(part, x, emb, context)
        return x

    def __len__(self) -> int:
        return len(self.parts)

    def __getitem__(self, index: int) -> torch.nn.Module:
        return self.parts[index]


def _kinds():
    from diffusers.models.resnet import ResnetBlock2D
    from diffusers.models.transformers.transformer_2d import Transformer2DModel

    return ResnetBlock2D, Transformer2DModel


def _run(part: torch.nn.Module, x: torch.Tensor, emb, context) -> torch.Tensor:
    """A layer's own forward (not a pass-through put on it), with the arguments diffusers gives that kind."""
    resnet, transformer = _kinds()
    if isinstance(part, resnet):
        return type(part).forward(part, x, emb)
    if isinstance(part, transformer):
        return type(part).forward(part, x, encoder_hidden_states=context, return_dict=False)[0]
    return type(part).forward(part, x)  # conv_in, a downsampler or upsampler, a self-attention layer


class BlockList:
    """ldm's `input_blocks` / `output_blocks`: indexable, iterable, and assignable slot by slot."""

    def __init__(self, blocks: list[Block]):
        self._blocks = blocks
        self._held: list[object] = list(blocks)

    def __len__(self) -> int:
        return len(self._blocks)

    def __iter__(self) -> Iterator[object]:
        return iter(list(self._held))

    def __getitem__(self, index: int) -> object:
        return self._held[index]

    def __setitem__(self, index: int, module) -> None:
        index = range(len(self._blocks))[index]
        block = self._blocks[index]
        for part in block.parts:
            vars(part).pop("forward", None)
        self._held[index] = module
        if module is not block:
            _route(block, module)


def _route(block: Block, module) -> None:
    """The UNet's call of the block's first layer calls `module(h, emb, context)`; its other layers pass through."""
    head, *rest = block.parts

    def call(x, *args, **kwargs):
        emb = args[0] if args and isinstance(head, _kinds()[0]) else kwargs.get("temb")
        return module(x, emb, _context.get())

    vars(head)["forward"] = call
    for part in rest:
        vars(part)["forward"] = _pass_through(part)


def _pass_through(part: torch.nn.Module):
    tuple_out = isinstance(part, _kinds()[1])  # diffusers takes [0] of what a transformer returns

    def same(x, *args, **kwargs):
        return (x,) if tuple_out else x

    return same


def _keep_context(unet, args, kwargs) -> None:
    context = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
    _context.set(context)


def block_lists(unet: torch.nn.Module) -> tuple[BlockList, BlockList]:
    """(input_blocks, output_blocks) of a diffusers UNet, in ldm's order; one pair per UNet."""
    if unet not in _lists:
        unet.register_forward_pre_hook(_keep_context, with_kwargs=True)
        _lists[unet] = (BlockList(_input_blocks(unet)), BlockList(_output_blocks(unet)))
    return _lists[unet]


def _input_blocks(unet) -> list[Block]:
    blocks = [Block([unet.conv_in])]
    for down in unet.down_blocks:
        attentions = list(getattr(down, "attentions", None) or [None] * len(down.resnets))
        blocks += [Block([r] + ([a] if a is not None else [])) for r, a in zip(down.resnets, attentions)]
        blocks += [Block([d]) for d in (down.downsamplers or [])]
    return blocks


def _output_blocks(unet) -> list[Block]:
    blocks = []
    for up in unet.up_blocks:
        attentions = list(getattr(up, "attentions", None) or [None] * len(up.resnets))
        for j, (r, a) in enumerate(zip(up.resnets, attentions)):
            last = j == len(up.resnets) - 1
            blocks.append(Block([r] + ([a] if a is not None else []) + (list(up.upsamplers or []) if last else [])))
    return blocks
