"""The CMU OpenPose body and hand networks (`body_pose_model.pth`, `hand_pose_model.pth`): a VGG-19 trunk, then
stages of convolutions that refine part heatmaps (and, for the body, part affinity fields, PAFs) from the trunk
features and the previous stage's guesses.

The files store each layer by its own name (`conv1_1.weight`, `Mconv7_stage6_L2.bias`); the networks here keep
those names inside `nn.ModuleDict`s, so `load_flat` only has to prefix each key with its group.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (name, in, out, kernel); "pool" is a 2×2/2 max pool. Every conv is followed by a ReLU unless listed in NO_RELU.
TRUNK = (("conv1_1", 3, 64, 3), ("conv1_2", 64, 64, 3), "pool", ("conv2_1", 64, 128, 3), ("conv2_2", 128, 128, 3),
         "pool", ("conv3_1", 128, 256, 3), ("conv3_2", 256, 256, 3), ("conv3_3", 256, 256, 3),
         ("conv3_4", 256, 256, 3), "pool", ("conv4_1", 256, 512, 3), ("conv4_2", 512, 512, 3))
BODY_TRUNK = TRUNK + (("conv4_3_CPM", 512, 256, 3), ("conv4_4_CPM", 256, 128, 3))
HAND_TRUNK = TRUNK + (("conv4_3", 512, 512, 3), ("conv4_4", 512, 512, 3), ("conv5_1", 512, 512, 3),
                      ("conv5_2", 512, 512, 3), ("conv5_3_CPM", 512, 128, 3))
PAFS, BODY_MAPS, HAND_MAPS = 38, 19, 22  # 19 limbs × (x, y); 18 parts + background; 21 hand points + background
FACE_MAPS = 71  # 70 face landmarks + background; the face network (`facenet.pth`) has the hand network's shape


def body_stage1(branch: int, out: int) -> tuple:
    return tuple((f"conv5_{i}_CPM_L{branch}", 128, 128, 3) for i in (1, 2, 3)) + (
        (f"conv5_4_CPM_L{branch}", 128, 512, 1), (f"conv5_5_CPM_L{branch}", 512, out, 1))


def refine_stage(suffix: str, cin: int, out: int) -> tuple:
    """Mconv1…5 (7×7), Mconv6 (1×1), Mconv7 (1×1 to the maps) of one refinement stage."""
    return ((f"Mconv1_{suffix}", cin, 128, 7), *((f"Mconv{i}_{suffix}", 128, 128, 7) for i in (2, 3, 4, 5)),
            (f"Mconv6_{suffix}", 128, 128, 1), (f"Mconv7_{suffix}", 128, out, 1))


# The body model's list of layers without ReLU names Mconv7_stage6_L1 twice and never Mconv7_stage6_L2, so the last
# heatmap output does pass through a ReLU; the weights were trained (and the extension runs) that way.
BODY_NO_RELU = frozenset({"conv5_5_CPM_L1", "conv5_5_CPM_L2", "Mconv7_stage6_L1",
                          *(f"Mconv7_stage{s}_L{b}" for s in (2, 3, 4, 5) for b in (1, 2))})
HAND_NO_RELU = frozenset({"conv6_2_CPM", *(f"Mconv7_stage{s}" for s in range(2, 7))})


class ConvChain(nn.Module):
    """Layers applied in order; the convs live in `layers` under the file's names."""

    def __init__(self, spec: tuple, no_relu: frozenset):
        super().__init__()
        self.order = tuple(s if isinstance(s, str) else s[0] for s in spec)
        self.relu = tuple(isinstance(s, tuple) and s[0] not in no_relu for s in spec)
        self.layers = nn.ModuleDict({name: nn.Conv2d(cin, cout, k, padding=k // 2)
                                     for name, cin, cout, k in (s for s in spec if isinstance(s, tuple))})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, relu in zip(self.order, self.relu):
            x = F.max_pool2d(x, 2, 2) if name == "pool" else self.layers[name](x)
            x = F.relu(x) if relu else x
        return x


class BodyPoseNet(nn.Module):
    """x [B, 3, H, W] (BGR, value/256 − 0.5) → (PAFs [B, 38, H/8, W/8], heatmaps [B, 19, H/8, W/8])."""

    def __init__(self):
        super().__init__()
        self.trunk = ConvChain(BODY_TRUNK, BODY_NO_RELU)
        self.stages = nn.ModuleList()
        for s in range(1, 7):
            pair = [body_stage1(b, n) if s == 1 else refine_stage(f"stage{s}_L{b}", 128 + PAFS + BODY_MAPS, n)
                    for b, n in ((1, PAFS), (2, BODY_MAPS))]
            self.stages.append(nn.ModuleList(ConvChain(spec, BODY_NO_RELU) for spec in pair))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)  # [B, 128, H/8, W/8]
        guess = features
        for paf_branch, heat_branch in self.stages:
            pafs, heat = paf_branch(guess), heat_branch(guess)
            guess = torch.cat([pafs, heat, features], dim=1)  # [B, 185, H/8, W/8]
        return pafs, heat


class HandPoseNet(nn.Module):
    """x [B, 3, H, W] (BGR, value/256 − 0.5) → heatmaps [B, maps, H/8, W/8] (22 for the hand, 71 for the face)."""

    def __init__(self, maps: int = HAND_MAPS):
        super().__init__()
        self.trunk = ConvChain(HAND_TRUNK, HAND_NO_RELU)
        first = (("conv6_1_CPM", 128, 512, 1), ("conv6_2_CPM", 512, maps, 1))
        specs = [first] + [refine_stage(f"stage{s}", 128 + maps, maps) for s in range(2, 7)]
        self.stages = nn.ModuleList(ConvChain(spec, HAND_NO_RELU) for spec in specs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)  # [B, 128, H/8, W/8]
        heat = self.stages[0](features)
        for stage in self.stages[1:]:
            heat = stage(torch.cat([heat, features], dim=1))  # [B, maps + 128, H/8, W/8] in
        return heat


def face_net() -> HandPoseNet:
    return HandPoseNet(FACE_MAPS)


def flat_keys(net: nn.Module) -> dict[str, str]:
    """The file's key (`conv1_1.weight`) → this network's parameter name (`trunk.layers.conv1_1.weight`)."""
    return {".".join(name.split(".")[-2:]): name for name in net.state_dict()}


def load_flat(factory, flat: dict, path, what: str) -> nn.Module:
    """The network `factory()` builds, with the file's flat state dict loaded (every layer name must be there,
    nothing else)."""
    from modules.controlnet.preprocessors.network_io import load_exact

    with torch.device("meta"):
        names = flat_keys(factory())
    return load_exact(factory, {names.get(k, k): v for k, v in flat.items()}, path, what)
