"""The names of the networks a preset (`aux_ft_arch`, `aux_fb_arch`) or `--ft-arch` /
`--fb-arch` may choose, and their initialisations. `bench.models` builds each one
(`tests/test_models.py` checks that the two agree)."""

from __future__ import annotations

# fT / fT': the paper's Table 5 architectures and a narrow 3D CNN for the tiny preset
ACTION_ARCHS: tuple[str, ...] = ("tiny", "r3d_18", "r2plus1d_18", "mvit_v2_s", "i3d_r50", "c3d")
ACTION_INITS: tuple[str, ...] = ("scratch", "kinetics400")
# fB / fB': the paper's Tables 7 and 8 ResNets and a narrow 2D CNN for the tiny preset
PRIVACY_ARCHS: tuple[str, ...] = (
    "tiny",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
)
PRIVACY_INITS: tuple[str, ...] = ("scratch", "imagenet")
