"""Privacy networks: image backbones with a projection head (fB) or a multi-label head (fB')."""

from __future__ import annotations

import torch
from torch import nn
from torchvision import models as tv_models

from bench.errors import BenchError


def _conv2d(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TinyCNN(nn.Module):
    """A narrow 2D CNN for the tiny preset; keeps full resolution in its first two layers."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.out_dim = 4 * width
        self.body = nn.Sequential(
            _conv2d(3, width),
            _conv2d(width, width),
            nn.MaxPool2d(2),
            _conv2d(width, 2 * width),
            nn.MaxPool2d(2),
            _conv2d(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> features (N, out_dim)."""
        return self.body(images)


RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
PRIVACY_ARCHS = ("tiny", *RESNETS)


def build_backbone(arch: str) -> tuple[nn.Module, int]:
    """A randomly initialised image backbone and its feature size."""
    if arch == "tiny":
        net = TinyCNN()
        return net, net.out_dim
    if arch in RESNETS:
        resnet = getattr(tv_models, arch)(weights=None)
        dim = resnet.fc.in_features
        resnet.fc = nn.Identity()
        return resnet, dim
    raise BenchError(f"unknown privacy architecture '{arch}'; known: {', '.join(PRIVACY_ARCHS)}")


class BudgetModel(nn.Module):
    """fB: backbone + non-linear projection head, trained with NT-Xent (SimCLR style)."""

    def __init__(self, arch: str, proj_dim: int = 128) -> None:
        super().__init__()
        self.backbone, dim = build_backbone(arch)
        self.head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, proj_dim)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> projections (N, proj_dim)."""
        return self.head(self.backbone(images))


class AttributeClassifier(nn.Module):
    """fB': backbone + linear multi-label head (one logit per private attribute)."""

    def __init__(self, arch: str, num_attributes: int) -> None:
        super().__init__()
        self.backbone, dim = build_backbone(arch)
        self.head = nn.Linear(dim, num_attributes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> attribute logits (N, A)."""
        return self.head(self.backbone(images))
