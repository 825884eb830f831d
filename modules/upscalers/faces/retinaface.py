"""RetinaFace (Deng et al. 2019, "RetinaFace: Single-stage Dense Face Localisation in the Wild"), the face detector
GFPGAN and CodeFormer are run behind, in the two variants whose weights facexlib publishes:

    detection_Resnet50_Final.pth           ResNet-50 body, 256-channel FPN/SSH, heads on strides 8/16/32
    detection_mobilenet0.25_Final.pth      MobileNet-0.25 body, 64-channel FPN/SSH

The modules below are named so that `state_dict()` has exactly those files' keys (`body.layer2.0.conv1.weight`,
`fpn.output1.0.weight`, `ssh1.conv7x7_3.1.running_var`, `ClassHead.0.conv1x1.bias`, …), after the `module.`
prefix DataParallel left in them is dropped. Each head predicts, per feature-map cell and per anchor (two anchor
sizes per level): 2 class logits (background, face), 4 box offsets and 10 landmark offsets (5 points).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from modules.errors import ModelLoadError

# Per variant: channels of the three body outputs, FPN/SSH width, LeakyReLU slope inside FPN/SSH (0 = ReLU).
VARIANTS: dict[str, dict] = {
    "resnet50": {"in_channels": (512, 1024, 2048), "width": 256, "slope": 0.0},
    "mobilenet0.25": {"in_channels": (64, 128, 256), "width": 64, "slope": 0.1},
}
ANCHORS_PER_CELL = 2
# A key only each variant's file has, to tell them apart.
VARIANT_PROBES = {"resnet50": "body.layer1.0.conv1.weight", "mobilenet0.25": "body.stage1.0.0.weight"}


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, slope: float | None = None,
            groups: int = 1) -> nn.Sequential:
    """Conv (no bias) → BatchNorm [→ LeakyReLU(slope)]: keys `.0.weight`, `.1.{weight,bias,running_*}`."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if slope is not None:
        layers.append(nn.LeakyReLU(slope, inplace=True))
    return nn.Sequential(*layers)


def depthwise_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    """3×3 depthwise conv-bn-act then 1×1 pointwise conv-bn-act (keys .0/.1 and .3/.4)."""
    return nn.Sequential(*conv_bn(cin, cin, 3, stride, 0.1, groups=cin), *conv_bn(cin, cout, 1, 1, 0.1))


class MobileNetBody(nn.Module):
    """MobileNet-0.25 (a quarter of MobileNetV1's widths); returns the stride 8, 16 and 32 feature maps."""

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(conv_bn(3, 8, 3, 2, 0.1), depthwise_separable(8, 16, 1),
                                    depthwise_separable(16, 32, 2), depthwise_separable(32, 32, 1),
                                    depthwise_separable(32, 64, 2), depthwise_separable(64, 64, 1))
        self.stage2 = nn.Sequential(depthwise_separable(64, 128, 2),
                                    *(depthwise_separable(128, 128, 1) for _ in range(5)))
        self.stage3 = nn.Sequential(depthwise_separable(128, 256, 2), depthwise_separable(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.stage1(x)  # [B, 64, H/8, W/8]
        c4 = self.stage2(c3)  # [B, 128, H/16, W/16]
        return [c3, c4, self.stage3(c4)]  # ..., [B, 256, H/32, W/32]


class ResNet50Body(nn.Module):
    """torchvision's ResNet-50 up to layer4 (no pooling, no classifier); returns layer2, layer3 and layer4."""

    def __init__(self):
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))  # [B, 256, H/4, W/4]
        c3 = self.layer2(x)  # [B, 512, H/8, W/8]
        c4 = self.layer3(c3)  # [B, 1024, H/16, W/16]
        return [c3, c4, self.layer4(c4)]  # ..., [B, 2048, H/32, W/32]


class FPN(nn.Module):
    """Feature pyramid: 1×1 lateral convs to `width`, top-down nearest upsampling, a 3×3 merge per level."""

    def __init__(self, in_channels: tuple[int, int, int], width: int, slope: float):
        super().__init__()
        self.output1, self.output2, self.output3 = (conv_bn(c, width, 1, 1, slope) for c in in_channels)
        self.merge1 = conv_bn(width, width, 3, 1, slope)
        self.merge2 = conv_bn(width, width, 3, 1, slope)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        p3, p4, p5 = self.output1(features[0]), self.output2(features[1]), self.output3(features[2])
        p4 = self.merge2(p4 + F.interpolate(p5, size=p4.shape[-2:], mode="nearest"))
        p3 = self.merge1(p3 + F.interpolate(p4, size=p3.shape[-2:], mode="nearest"))
        return [p3, p4, p5]  # each [B, width, h_i, w_i]


class SSH(nn.Module):
    """Context module (Najibi et al. 2017): 3×3, 5×5 and 7×7 receptive fields (as stacked 3×3s), concatenated."""

    def __init__(self, width: int, slope: float):
        super().__init__()
        self.conv3X3 = conv_bn(width, width // 2)
        self.conv5X5_1 = conv_bn(width, width // 4, slope=slope)
        self.conv5X5_2 = conv_bn(width // 4, width // 4)
        self.conv7X7_2 = conv_bn(width // 4, width // 4, slope=slope)
        self.conv7x7_3 = conv_bn(width // 4, width // 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.conv5X5_1(x)
        branches = [self.conv3X3(x), self.conv5X5_2(shared), self.conv7x7_3(self.conv7X7_2(shared))]
        return F.relu(torch.cat(branches, dim=1))  # [B, width, h, w]


class Head(nn.Module):
    """A 1×1 conv predicting `values` numbers per anchor, reshaped to [B, h*w*anchors, values]."""

    def __init__(self, width: int, values: int):
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(width, ANCHORS_PER_CELL * values, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)  # [B, h, w, anchors * values]
        return out.reshape(out.shape[0], -1, self.values)


class RetinaFace(nn.Module):
    """image [B, 3, H, W] (BGR, 0..255 minus the mean (104, 117, 123)) → (box offsets [B, N, 4],
    face probabilities [B, N, 2], landmark offsets [B, N, 10]), N anchors over strides 8, 16, 32."""

    def __init__(self, variant: str = "resnet50"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown RetinaFace variant {variant!r}")
        cfg = VARIANTS[variant]
        self.variant = variant
        self.body = ResNet50Body() if variant == "resnet50" else MobileNetBody()
        self.fpn = FPN(cfg["in_channels"], cfg["width"], cfg["slope"])
        self.ssh1, self.ssh2, self.ssh3 = (SSH(cfg["width"], cfg["slope"]) for _ in range(3))
        self.ClassHead = nn.ModuleList(Head(cfg["width"], 2) for _ in range(3))
        self.BboxHead = nn.ModuleList(Head(cfg["width"], 4) for _ in range(3))
        self.LandmarkHead = nn.ModuleList(Head(cfg["width"], 10) for _ in range(3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pyramid = self.fpn(self.body(x))
        features = [ssh(p) for ssh, p in zip((self.ssh1, self.ssh2, self.ssh3), pyramid)]
        boxes = torch.cat([head(f) for head, f in zip(self.BboxHead, features)], dim=1)  # [B, N, 4]
        logits = torch.cat([head(f) for head, f in zip(self.ClassHead, features)], dim=1)  # [B, N, 2]
        landmarks = torch.cat([head(f) for head, f in zip(self.LandmarkHead, features)], dim=1)  # [B, N, 10]
        return boxes, F.softmax(logits, dim=-1), landmarks


def strip_prefix(state: dict) -> dict:
    """The state dict without DataParallel's `module.` prefix (facexlib's released files carry it)."""
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def variant_of(state: dict) -> str | None:
    """Which RetinaFace a state dict holds ("resnet50", "mobilenet0.25"), or None if neither."""
    for variant, probe in VARIANT_PROBES.items():
        if probe in state and "ClassHead.0.conv1x1.weight" in state:
            return variant
    return None


def load_retinaface(state: dict, source: str, device: torch.device | str = "cpu") -> RetinaFace:
    """A RetinaFace with the weights of `state` (either variant, prefix or not), in eval mode on `device`.
    Every key must match; only BatchNorm's `num_batches_tracked` counters may be absent."""
    if isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    state = strip_prefix(state)
    variant = variant_of(state)
    if variant is None:
        raise ModelLoadError(source, "not a RetinaFace face detector (expected facexlib's "
                                     "detection_Resnet50_Final.pth or detection_mobilenet0.25_Final.pth)")
    net = RetinaFace(variant)
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ModelLoadError(source, f"RetinaFace {variant} weights do not fit ({str(exc)[:300]})") from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ModelLoadError(source, f"RetinaFace {variant} weights do not fit (missing {missing[:3]}, "
                                     f"unexpected {unexpected[:3]})")
    return net.to(device).eval()
