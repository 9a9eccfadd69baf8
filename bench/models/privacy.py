"""Privacy networks: image backbones with a projection head (fB) or a multi-label head (fB')."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from bench.contract.architectures import PRIVACY_ARCHS, PRIVACY_INITS
from bench.contract.errors import BenchError
from bench.models.weights import PretrainedWeights, load_into


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


RESNETS = tuple(a for a in PRIVACY_ARCHS if a.startswith("resnet"))


def privacy_checkpoint(arch: str, init: str) -> PretrainedWeights | None:
    """The checkpoint `build_backbone(arch, init)` reads (torchvision's ImageNet-1k V1)."""
    if init == "scratch":
        return None
    if arch == "tiny":
        raise BenchError("--fb-init imagenet: the tiny backbone has no ImageNet checkpoint")
    from torchvision import models as tv_models  # imported when needed: it takes seconds

    enum = tv_models.get_model_weights(arch)
    return PretrainedWeights("imagenet", enum["IMAGENET1K_V1"].url)


def privacy_checkpoint_uses() -> list[tuple[PretrainedWeights, str]]:
    """Every ImageNet checkpoint of a privacy backbone, with the options that load it (for
    `bench.models.weights.checkpoints`)."""
    out = []
    for arch in RESNETS:
        weights = privacy_checkpoint(arch, "imagenet")
        assert weights is not None
        out.append((weights, f"{arch}: fB' --fb-init imagenet, fB --set aux_fb_init=imagenet"))
    return out


def build_backbone(
    arch: str, init: str = "scratch", cache_dir: Path | None = None
) -> tuple[nn.Module, int]:
    """An image backbone (random, or ImageNet-initialised from a local file) and its feature size."""
    if arch not in PRIVACY_ARCHS:
        raise BenchError(
            f"unknown privacy architecture '{arch}'; known: {', '.join(PRIVACY_ARCHS)}"
        )
    if init not in PRIVACY_INITS:
        raise BenchError(f"--fb-init {init}: must be one of {', '.join(PRIVACY_INITS)}")
    checkpoint = privacy_checkpoint(arch, init)
    if arch == "tiny":
        net = TinyCNN()
        return net, net.out_dim
    from torchvision import models as tv_models

    resnet = getattr(tv_models, arch)(weights=None)
    if checkpoint is not None:
        assert cache_dir is not None
        load_into(resnet, checkpoint, cache_dir, f"--fb-arch {arch} --fb-init {init}")
    dim = resnet.fc.in_features
    resnet.fc = nn.Identity()
    return resnet, dim


class BudgetModel(nn.Module):
    """fB: backbone + non-linear projection head, trained with NT-Xent (SimCLR style)."""

    def __init__(
        self,
        arch: str,
        proj_dim: int = 128,
        init: str = "scratch",
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.backbone, dim = build_backbone(arch, init, cache_dir)
        self.head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, proj_dim)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> projections (N, proj_dim)."""
        return self.head(self.backbone(images))


class AttributeClassifier(nn.Module):
    """fB': backbone + linear multi-label head (one logit per private attribute)."""

    def __init__(
        self,
        arch: str,
        num_attributes: int,
        init: str = "scratch",
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.backbone, dim = build_backbone(arch, init, cache_dir)
        self.head = nn.Linear(dim, num_attributes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> attribute logits (N, A)."""
        return self.head(self.backbone(images))
