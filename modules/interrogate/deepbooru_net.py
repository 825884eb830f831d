"""The DeepDanbooru tagger network (resnet_custom_v3) as plain torch modules, loadable from A1111's
`model-resnet_custom_v3.pt` state dict as is.

The network is a bottleneck ResNet without batch norm (folded into the convolutions) whose convolutions are named
`n_Conv_0` … `n_Conv_178` in the order the original graph ran them. The topology below (which blocks project
their shortcut, and where) is fixed by that file; every width, kernel size and the tag count are read from the
state dict's shapes, so a smaller network with the same key names loads as well (the tests build one).
Padding follows TensorFlow's "SAME" rule the model was trained with: stride-2 convolutions pad only right/bottom.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from modules.errors import ModelLoadError

# Blocks per stage, in file order: "P" projects the shortcut first, "L" projects it last, "I" adds the input.
# The first projection keeps the resolution; every other projection halves it.
STAGES = ("P" + "I" * 2, "P" + "I" * 7, "P" + "I" * 19 + "L" + "I" * 19, "P" + "I" * 2, "P" + "I" * 2)


@dataclass(frozen=True)
class Block:
    """One bottleneck: three convolution indices (1×1, 3×3, 1×1), the shortcut's index (None: identity), stride."""

    convs: tuple[int, int, int]
    shortcut: int | None
    stride: int


def block_layout(stages: tuple[str, ...] = STAGES) -> tuple[tuple[Block, ...], int]:
    """The blocks in file order and the classifier's index (the last convolution).

    >>> blocks, head = block_layout()
    >>> len(blocks), head
    (57, 178)
    >>> blocks[0], blocks[3]
    (Block(convs=(2, 3, 4), shortcut=1, stride=1), Block(convs=(12, 13, 14), shortcut=11, stride=2))
    >>> [b for b in blocks if b.shortcut is not None and b.shortcut > b.convs[0]]
    [Block(convs=(97, 98, 99), shortcut=100, stride=2)]
    """
    blocks, index, first = [], 1, True  # n_Conv_0 is the stem
    for stage in stages:
        for kind in stage:
            stride = 1 if kind == "I" or first else 2
            if kind == "P":
                blocks.append(Block((index + 1, index + 2, index + 3), index, stride))
            elif kind == "L":
                blocks.append(Block((index, index + 1, index + 2), index + 3, stride))
            else:
                blocks.append(Block((index, index + 1, index + 2), None, 1))
            index += 3 if kind == "I" else 4
            first = False
    return tuple(blocks), index


def conv_name(index: int) -> str:
    return f"n_Conv_{index}"


def _strides(blocks: tuple[Block, ...]) -> dict[int, int]:
    strides = {0: 2}
    for block in blocks:
        strides[block.convs[1]] = block.stride
        if block.shortcut is not None:
            strides[block.shortcut] = block.stride
    return strides


class DeepDanbooruNet(nn.Module):
    """Image batch (N, H, W, 3) in [0, 1] → tag probabilities (N, tags). Built from a state dict's shapes."""

    def __init__(self, shapes: dict[str, tuple[int, ...]]):
        super().__init__()
        self.blocks, self.head = block_layout()
        strides = _strides(self.blocks)
        for index in range(self.head + 1):
            shape = shapes.get(f"{conv_name(index)}.weight")
            if shape is None or len(shape) != 4:
                raise ModelLoadError("DeepDanbooru model", f"{conv_name(index)}.weight is missing or not a "
                                                           "convolution: not a resnet_custom_v3 state dict")
            out_ch, in_ch, k, _ = shape
            bias = f"{conv_name(index)}.bias" in shapes  # every convolution but the classifier has one
            self.add_module(conv_name(index), nn.Conv2d(in_ch, out_ch, k, stride=strides.get(index, 1), bias=bias))

    def conv(self, index: int) -> nn.Conv2d:
        return getattr(self, conv_name(index))

    def _block(self, x: torch.Tensor, block: Block) -> torch.Tensor:
        a, b, c = block.convs
        pad = [1, 1, 1, 1] if block.stride == 1 else [0, 1, 0, 1]  # "SAME" for 3×3 at stride 1 / 2
        h = F.relu(self.conv(a)(x))
        h = F.relu(self.conv(b)(F.pad(h, pad)))  # (N, mid, H/s, W/s)
        h = self.conv(c)(h)
        shortcut = x if block.shortcut is None else self.conv(block.shortcut)(x)
        return F.relu(h + shortcut)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2)  # (N, 3, H, W)
        x = F.relu(self.conv(0)(F.pad(x, [2, 3, 2, 3])))  # (N, C0, H/2, W/2)
        x = F.max_pool2d(F.pad(x, [0, 1, 0, 1], value=float("-inf")), 3, 2)  # (N, C0, H/4, W/4)
        for block in self.blocks:
            x = self._block(x, block)
        logits = self.conv(self.head)(x).mean(dim=(2, 3))  # (N, tags): 1×1 conv then global average
        return torch.sigmoid(logits)
