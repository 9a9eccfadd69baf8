"""The paper's tables as data: rows (method settings), column groups (dataset, protocol,
metric, evaluation model) and where each column's published numbers sit in results/paper/.

Each column group is fed by one of our dataset settings. The synthetic groups stand in for
the paper's first dataset group and are compared with it under `--paper`; the real-data groups
read records of `--data-root` runs. A group with no dataset ("") is a setting privbench does
not implement yet; it only shows the published numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.store.reading import Selector

TOP1, CMAP, F1 = "action_top1", "privacy_cmap", "privacy_f1"
METRIC_HEADERS = {TOP1: "Top-1 (↑%)", CMAP: "cMAP (↓%)", F1: "F1 (↓)"}
INVERSION_HEADERS = {
    "anonymized_privacy_cmap": "cMAP on fA*(test) (↓%)",
    "privacy_cmap": "cMAP after inversion (↓%)",
    "reconstruction_psnr": "PSNR (dB, ↓)",
    "reconstruction_ssim": "SSIM (↓)",
}
# metrics whose drop from raw means nothing: reconstruction quality (raw's row scores g on raw
# images, a near-identity) and the raw-test reference an attack protocol reports beside its
# score (the same raw-trained fB' on raw images, whatever the method)
NO_DROP_METRICS = frozenset(
    {"reconstruction_psnr", "reconstruction_ssim", "raw_privacy_cmap", "raw_privacy_f1"}
)


@dataclass(frozen=True)
class Row:
    """A table row: one method setting."""

    label: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def selector(
        self, protocol: str, dataset: str, evaluation: Mapping[str, str] | None = None
    ) -> Selector:
        """The runs of this setting under `protocol` on `dataset` (default models unless
        `evaluation` names some)."""
        return Selector(self.method, dict(self.params), protocol, dataset, dict(evaluation or {}))


@dataclass(frozen=True)
class Column:
    """A table column: one metric under one protocol and evaluation model."""

    label: str
    metric: str
    protocol: str
    paper_dataset: str  # the `dataset` of its published numbers in results/paper/tableN.csv
    evaluation: Mapping[str, str] = field(default_factory=dict)  # beyond the preset's defaults
    paper_arch: str = ""
    paper_init: str = "scratch"


@dataclass(frozen=True)
class Group:
    """Columns under one header, fed by one dataset setting's records."""

    title: str
    dataset: str  # our dataset setting; "" where privbench has none
    sweep: str  # the shipped sweep file that fills it
    columns: tuple[Column, ...]
    preset: str = "paper"  # the preset its sweep runs at


@dataclass(frozen=True)
class TableSpec:
    """One of the paper's tables."""

    number: int
    caption: str
    rows: tuple[Row, ...]
    groups: tuple[Group, ...]
    published: bool = True  # False: privbench's own table, the paper has no numbers for it


def metric_columns(protocol: str, action: str, privacy: str) -> tuple[Column, ...]:
    """Top-1 on `action`, cMAP and F1 on `privacy` (paper dataset names), under `protocol`."""
    return (
        Column(METRIC_HEADERS[TOP1], TOP1, protocol, action),
        Column(METRIC_HEADERS[CMAP], CMAP, protocol, privacy),
        Column(METRIC_HEADERS[F1], F1, protocol, privacy),
    )


def inversion_columns(protocol: str, privacy: str) -> tuple[Column, ...]:
    """The inversion attack's columns (`--protocol inversion`): fB' on fA*(test), fB' on
    g(fA*(test)), and how close g(fA*(test)) is to the raw test images."""
    return tuple(Column(label, m, protocol, privacy) for m, label in INVERSION_HEADERS.items())


def privacy_columns(
    protocol: str, privacy: str, evaluation: Mapping[str, str] | None = None
) -> tuple[Column, ...]:
    """cMAP and F1 on `privacy`, optionally with a chosen fB'."""
    evaluation = dict(evaluation or {})
    arch, init = evaluation.get("fb_arch", ""), evaluation.get("fb_init", "scratch")
    return tuple(
        Column(METRIC_HEADERS[m], m, protocol, privacy, evaluation, arch, init) for m in (CMAP, F1)
    )


RAW = Row("Raw data", "raw")
VITA = Row("VITA", "vita")
SPACT = Row("SPAct", "spact")
STPRIVACY = Row("STPrivacy", "stprivacy")  # published numbers only; not implemented here
OURS = tuple(Row(f"Ours (B = {b})", "penalty", {"B": b}) for b in (0.3, 0.5, 0.7, 0.9))
FIXED = (
    Row("Downsample-2x", "downsample", {"factor": 2}),
    Row("Downsample-4x", "downsample", {"factor": 4}),
    Row("Obf-Blackening", "blackening"),
    Row("Obf-StrongBlur", "blur", {"strength": "strong"}),
    Row("Obf-WeakBlur", "blur", {"strength": "weak"}),
)
LAMBDAS = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0)

FT_ARCHS = (
    ("R3D-18", {"ft_arch": "r3d_18"}),
    ("R(2+1)D-18", {"ft_arch": "r2plus1d_18"}),
    ("R(2+1)D-18 K400", {"ft_arch": "r2plus1d_18", "ft_init": "kinetics400"}),
    ("MViTv2-S", {"ft_arch": "mvit_v2_s"}),
    ("I3D-R50", {"ft_arch": "i3d_r50"}),
    ("C3D", {"ft_arch": "c3d"}),
)
FB_ARCHS = tuple((f"ResNet-{d}", f"resnet{d}") for d in (18, 34, 50, 101, 152))


def _action_arch_columns() -> tuple[Column, ...]:
    return tuple(
        Column(
            label,
            TOP1,
            "known",
            "UCF101",
            models,
            models["ft_arch"],
            models.get("ft_init", "scratch"),
        )
        for label, models in FT_ARCHS
    )


def _privacy_arch_groups(sweep: str, init: str) -> tuple[Group, ...]:
    """One group per fB' ResNet depth, on synthetic P1 and on VISPR1."""
    groups = []
    for dataset, where, preset, suffix in (
        ("synthetic", "P1", "tiny", ""),
        ("ucf101-vispr1", "VISPR1", "paper", "-paper"),
    ):
        for label, arch in FB_ARCHS:
            models = {"fb_arch": arch, "fb_init": init}
            columns = privacy_columns("known", "VISPR1", models)
            groups.append(Group(f"{label} ({where})", dataset, sweep + suffix, columns, preset))
    return tuple(groups)


TABLES: dict[int, TableSpec] = {
    1: TableSpec(
        1,
        "Privacy-preserving methods on the known action and private-attribute datasets",
        (RAW, *FIXED, VITA, SPACT, STPRIVACY, *OURS),
        (
            Group("Synthetic A / P1", "synthetic", "table1", metric_columns("known", "UCF101", "VISPR1"), "tiny"),
            Group("UCF101 / VISPR1", "ucf101-vispr1", "table1-paper", metric_columns("known", "UCF101", "VISPR1")),
            Group("PA-HMDB", "hmdb51-pahmdb", "table1-paper", metric_columns("known", "PA-HMDB", "PA-HMDB")),
            Group("VPHMDB", "vphmdb-vispr1", "table1-paper", metric_columns("known", "VPHMDB", "VPHMDB")),
        ),
    ),
    2: TableSpec(
        2,
        "Privacy-preserving methods on novel actions and novel private attributes",
        (RAW, VITA, SPACT, STPRIVACY, *OURS),
        (
            Group("Synthetic A+P1 → B+P2", "synthetic", "table2", metric_columns("novel", "UCF101->HMDB51", "VISPR1->VISPR2"), "tiny"),
            Group("UCF101 → HMDB51", "ucf101-vispr1", "table2-paper", metric_columns("novel", "UCF101->HMDB51", "")[:1]),
            Group("UCF101 → PA-HMDB", "", "", metric_columns("novel", "UCF101->PAHMDB", "")[:1]),
            Group("VISPR1 → VISPR2", "ucf101-vispr1", "table2-paper", privacy_columns("novel", "VISPR1->VISPR2")),
            Group("VPHMDB → VPUCF", "", "", metric_columns("novel", "VPHMDB->VPUCF", "VPHMDB->VPUCF")),
        ),
    ),
    3: TableSpec(
        3,
        "Penalty weight λ at B = 0.3, with SPAct and the official code's detached penalty",
        (
            RAW,
            *(Row(f"λ = {lam}", "penalty", {"B": 0.3, "lam": lam}) for lam in LAMBDAS),
            SPACT,
            Row("λ = 1.0, detached penalty", "penalty", {"B": 0.3, "penalty_grad": "detached"}),
        ),
        (
            Group("Synthetic A / P1", "synthetic", "table3", metric_columns("known", "UCF101", "VISPR1"), "tiny"),
            Group("UCF101 / VISPR1", "ucf101-vispr1", "table3-paper", metric_columns("known", "UCF101", "VISPR1")),
        ),
    ),
    5: TableSpec(
        5,
        "Action top-1 (↑%) with different fT' architectures",
        (RAW, SPACT, *OURS),
        (
            Group("Synthetic A", "synthetic", "table5", _action_arch_columns(), "tiny"),
            Group("UCF101", "ucf101-vispr1", "table5-paper", _action_arch_columns()),
        ),
    ),
    6: TableSpec(
        6,
        "Privacy leakage to an fB' pretrained on raw images",
        (RAW, VITA, SPACT, *OURS),
        (
            Group("Synthetic P1", "synthetic", "table6", privacy_columns("pretrained-attack", "VISPR1"), "tiny"),
            Group("Synthetic P2 (novel)", "synthetic", "table6", privacy_columns("pretrained-attack-novel", "VISPR2"), "tiny"),
            Group("VISPR1", "ucf101-vispr1", "table6-paper", privacy_columns("pretrained-attack", "VISPR1")),
            Group("VISPR2", "ucf101-vispr1", "table6-paper", privacy_columns("pretrained-attack-novel", "VISPR2")),
            Group("PA-HMDB", "hmdb51-pahmdb", "table6-paper", privacy_columns("pretrained-attack", "PA-HMDB")),
        ),
    ),
    7: TableSpec(
        7,
        "Privacy leakage with different fB' architectures, trained from scratch",
        (RAW, SPACT, *OURS),
        _privacy_arch_groups("table7", "scratch"),
    ),
    8: TableSpec(
        8,
        "Privacy leakage with different fB' architectures, initialised from ImageNet",
        (RAW, SPACT, *OURS),
        _privacy_arch_groups("table8", "imagenet"),
    ),
    9: TableSpec(
        9,
        "Inversion attack: a white-box attacker learns g to undo fA*; a raw-trained fB' scores g(fA*(test)) (privbench's own, not in the paper)",
        (RAW, *FIXED, VITA, SPACT, OURS[0]),
        (
            Group("Synthetic P1", "synthetic", "table9", inversion_columns("inversion", "VISPR1"), "tiny"),
            Group("Synthetic P2 (novel)", "synthetic", "table9", inversion_columns("inversion-novel", "VISPR2"), "tiny"),
            Group("VISPR1", "ucf101-vispr1", "table9-paper", inversion_columns("inversion", "VISPR1")),
            Group("VISPR2", "ucf101-vispr1", "table9-paper", inversion_columns("inversion-novel", "VISPR2")),
        ),
        published=False,
    ),
}  # fmt: skip
