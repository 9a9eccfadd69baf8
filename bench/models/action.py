"""Action classifiers (fT during anonymizer training, fresh fT' for evaluation).

Architectures of the paper's Table 5: R3D-18, R(2+1)D-18 and MViTv2-S (torchvision), I3D-R50
(pytorchvideo), C3D (Tran et al. 2015, no package ships it), plus a narrow 3D CNN for the tiny
preset. `init='kinetics400'` loads the published Kinetics-400 checkpoint from a local file
(`bench.models.weights`) and replaces the classification layer.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.contract.architectures import ACTION_ARCHS, ACTION_INITS
from bench.contract.errors import BenchError
from bench.models.weights import PretrainedWeights, load_into


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


def _c3d_block(cin: int, cout: int, convs: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv3d(cin if i == 0 else cout, cout, 3, padding=1), nn.ReLU(inplace=True)]
    return layers


class C3D(nn.Module):
    """C3D (Tran et al. 2015): eight 3x3x3 convolutions, five poolings, fc6 / fc7 of 4096.

    The last pooling is adaptive to 1x4x4 (C3D's pool5 output at 16x112x112), so any clip
    size works; at the original input size the network is the published one.
    """

    def __init__(self, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_c3d_block(3, 64, 1),
            nn.MaxPool3d((1, 2, 2)),
            *_c3d_block(64, 128, 1),
            nn.MaxPool3d(2, ceil_mode=True),
            *_c3d_block(128, 256, 2),
            nn.MaxPool3d(2, ceil_mode=True),
            *_c3d_block(256, 512, 2),
            nn.MaxPool3d(2, ceil_mode=True),
            *_c3d_block(512, 512, 2),
            nn.AdaptiveMaxPool3d((1, 4, 4)),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(512 * 16, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> class logits (N, num_classes)."""
        return self.classifier(self.features(clips))


class ResizedInput(nn.Module):
    """Resizes clips to the fixed (T, H, W) a model was built for (MViTv2's position tables)."""

    def __init__(self, model: nn.Module, size: tuple[int, int, int]) -> None:
        super().__init__()
        self.model, self.size = model, size

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) -> logits of the wrapped model on the resized clips."""
        if tuple(clips.shape[2:]) != self.size:
            clips = F.interpolate(clips, size=self.size, mode="trilinear", align_corners=False)
        return self.model(clips)


I3D_MISSING = (
    "action architecture i3d_r50 (the paper's fT, the `paper` preset's) comes from "
    "pytorchvideo, which is not installed: pip install 'privbench[models]' (or choose another "
    "with --set aux_ft_arch=r3d_18 --ft-arch r3d_18)"
)


def check_action_arch(arch: str) -> None:
    """A BenchError before any work when `arch` needs a package that is not installed."""
    if arch == "i3d_r50" and importlib.util.find_spec("pytorchvideo") is None:
        raise BenchError(I3D_MISSING)


def _i3d_r50(num_classes: int) -> nn.Module:
    try:
        from pytorchvideo.models.hub.resnet import i3d_r50
    except ImportError:
        raise BenchError(I3D_MISSING) from None
    model = i3d_r50(pretrained=False, model_num_class=num_classes)
    model.blocks[-1].pool = nn.AdaptiveAvgPool3d(1)  # any clip size; no weights in a pool
    return model


@dataclass(frozen=True)
class ActionArch:
    """How to build one architecture and, where published, its Kinetics-400 checkpoint."""

    build: Callable[[int], nn.Module]
    head: str | None = None  # dotted path of the classification layer (an nn.Linear)
    kinetics400: PretrainedWeights | None = None
    input_size: tuple[int, int, int] | None = None  # fixed (T, H, W), if any


def _tv(name: str) -> Callable[[int], nn.Module]:
    """torchvision's video model `name`, imported when built (importing torchvision's
    models costs seconds, so only the runs that build one pay it)."""

    def build(n: int) -> nn.Module:
        from torchvision.models import video

        return getattr(video, name)(weights=None, num_classes=n)  # type: ignore[no-any-return]

    return build


TV_MODELS = "https://download.pytorch.org/models"  # torchvision's published checkpoints

ARCHS: dict[str, ActionArch] = {
    "tiny": ActionArch(TinyC3D),
    "r3d_18": ActionArch(
        _tv("r3d_18"),
        "fc",
        PretrainedWeights("kinetics400", f"{TV_MODELS}/r3d_18-b3b3357e.pth"),
    ),
    "r2plus1d_18": ActionArch(
        _tv("r2plus1d_18"),
        "fc",
        PretrainedWeights("kinetics400", f"{TV_MODELS}/r2plus1d_18-91a641e6.pth"),
    ),
    "mvit_v2_s": ActionArch(
        _tv("mvit_v2_s"),
        "head.1",
        PretrainedWeights("kinetics400", f"{TV_MODELS}/mvit_v2_s-ae3be167.pth"),
        input_size=(16, 224, 224),
    ),
    "i3d_r50": ActionArch(
        _i3d_r50,
        "blocks.6.proj",
        PretrainedWeights(
            "kinetics400",
            "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth",
            state_key="model_state",
        ),
    ),
    "c3d": ActionArch(C3D),
}


def action_checkpoint(arch: str, init: str) -> PretrainedWeights | None:
    """The checkpoint `build_action_model(arch, ..., init)` reads; None when from scratch."""
    if init == "scratch":
        return None
    spec = ARCHS[arch]
    if spec.kinetics400 is None or spec.head is None:
        raise BenchError(
            f"--ft-init {init}: no published Kinetics-400 checkpoint for {arch}; "
            "use --ft-init scratch"
        )
    return spec.kinetics400


def action_checkpoint_uses() -> list[tuple[PretrainedWeights, str]]:
    """Every published checkpoint of an action architecture, with the options that load it
    (for `bench.models.weights.checkpoints`)."""
    return [
        (spec.kinetics400, f"{arch}: fT' --ft-init kinetics400, fT --set aux_ft_init=kinetics400")
        for arch, spec in ARCHS.items()
        if spec.kinetics400 is not None and spec.head is not None
    ]


def build_action_model(
    arch: str, num_classes: int, init: str = "scratch", cache_dir: Path | None = None
) -> nn.Module:
    """An action classifier: randomly initialised, or from its Kinetics-400 checkpoint."""
    if arch not in ARCHS:
        raise BenchError(f"unknown action architecture '{arch}'; known: {', '.join(ACTION_ARCHS)}")
    if init not in ACTION_INITS:
        raise BenchError(f"--ft-init {init}: must be one of {', '.join(ACTION_INITS)}")
    spec = ARCHS[arch]
    checkpoint = action_checkpoint(arch, init)
    if checkpoint is None:
        model = spec.build(num_classes)
    else:
        assert spec.head is not None and cache_dir is not None
        model = spec.build(400)
        load_into(model, checkpoint, cache_dir, f"--ft-arch {arch} --ft-init {init}")
        parent_path, _, attr = spec.head.rpartition(".")
        parent = model.get_submodule(parent_path)
        old = model.get_submodule(spec.head)
        assert isinstance(old, nn.Linear)
        setattr(parent, attr, nn.Linear(old.in_features, num_classes))
    return ResizedInput(model, spec.input_size) if spec.input_size else model
