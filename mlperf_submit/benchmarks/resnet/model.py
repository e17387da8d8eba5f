"""ResNet-50 v1.5, written with plain torch (torchvision does not install beside torch 2.13 here).

v1.5 differs from the original ResNet-50 (v1) in one place: a down-sampling bottleneck puts its
stride on the 3x3 convolution, not on the first 1x1 (this is what the MLPerf reference trains).
The same class builds the real network (``ResNetSpec()``: stages 3-4-6-3, widths 64..512,
7x7 stem) and the scaled-down variants the ``tiny`` preset uses (fewer blocks, narrower,
3x3 stem for 32-pixel images), so the tiny runs exercise the real code path.

    >>> net = build_resnet(ResNetSpec(num_classes=1000))   # 25.6 M parameters
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ResNetSpec:
    """Shape of the network. Defaults are ResNet-50 v1.5 for ImageNet."""

    layers: tuple[int, ...] = (3, 4, 6, 3)
    """Bottleneck blocks per stage."""
    width: int = 64
    """Channels of the first stage's 3x3 conv; stage i uses width * 2**i (output is x4)."""
    num_classes: int = 1000
    stem: str = "imagenet"
    """"imagenet": 7x7/2 conv + 3x3/2 max-pool (224 px); "small": one 3x3/1 conv (32 px)."""
    zero_init_residual: bool = True
    """Start each block as identity (last BN gamma = 0): the MLPerf reference does this."""


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        # v1.5: the stride sits here, on the 3x3.
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        w = spec.width
        if spec.stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(3, w, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        elif spec.stem == "small":
            self.stem = nn.Sequential(
                nn.Conv2d(3, w, 3, stride=1, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            )
        else:
            raise ValueError(f"unknown stem {spec.stem!r}: use 'imagenet' or 'small'")
        stages = []
        in_ch = w
        for i, blocks in enumerate(spec.layers):
            width = w * 2**i
            stride = 1 if i == 0 else 2
            stage = []
            for b in range(blocks):
                stage.append(Bottleneck(in_ch, width, stride if b == 0 else 1))
                in_ch = width * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, spec.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)
        if self.spec.zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def build_resnet(spec: ResNetSpec) -> ResNet:
    return ResNet(spec)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
