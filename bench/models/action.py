"""Action classifiers (fT during anonymizer training, fresh fT' for evaluation)."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import video as tv_video

from bench.errors import BenchError


def _conv3d(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)
    )


class TinyC3D(nn.Module):
    """A narrow 3D CNN for the tiny preset: three 3x3x3 conv blocks, pooled, linear head."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv3d(3, width),
            nn.MaxPool3d((1, 2, 2)),
            _conv3d(width, 2 * width),
            nn.MaxPool3d(2),
            _conv3d(2 * width, 4 * width),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> class logits (N, num_classes)."""
        return self.head(self.features(clips))


ACTION_ARCHS = ("tiny", "r3d_18", "r2plus1d_18")


def build_action_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised action classifier of the given architecture."""
    if arch == "tiny":
        return TinyC3D(num_classes)
    if arch == "r3d_18":
        return tv_video.r3d_18(weights=None, num_classes=num_classes)
    if arch == "r2plus1d_18":
        return tv_video.r2plus1d_18(weights=None, num_classes=num_classes)
    raise BenchError(f"unknown action architecture '{arch}'; known: {', '.join(ACTION_ARCHS)}")
