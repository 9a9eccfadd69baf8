"""The inversion attack's figure (`bench figure inversion`, Table 9 as a picture): per method,
the raw-trained fB''s cMAP on raw test, on fA*(test) and on g(fA*(test)), an arrow from what
the anonymizer hid to what the attacker got back; beside it the PSNR of fA*(test) and of the
reconstructions against the raw test images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from bench.reports.figure_kit import FALLBACK_PRESET, fitted_title, nothing_to_draw
from bench.reports.table_specs import TABLES, Row
from bench.reports.tables import extra_rows
from bench.store.reading import RecordSet, Stat

INVERSION_TABLE = 9


@dataclass(frozen=True)
class _Attacked:
    row: Row
    raw: Stat
    anonymized: Stat
    inverted: Stat
    psnr_before: Stat
    psnr_after: Stat


def inversion_rows(records: RecordSet) -> tuple[Row, ...]:
    """Table 9's rows and a row per other method (plug-ins too) with inversion records."""
    spec = TABLES[INVERSION_TABLE]
    return (*spec.rows, *extra_rows(spec, records))


def inversion_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    protocol: str = "inversion",
    preset: str | None = None,
    rows: Sequence[Row] | None = None,
) -> Figure:
    """cMAP before and after the attack per method, and the reconstructions' PSNR."""
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET, {protocol})
    found = []
    for row in rows or inversion_rows(records):
        chosen = row.selector(protocol, dataset)
        stats = [
            records.stat(chosen, metric, preset)
            for metric in (
                "raw_privacy_cmap", "anonymized_privacy_cmap", "privacy_cmap",
                "anonymized_psnr", "reconstruction_psnr",
            )
        ]  # fmt: skip
        if all(s is not None for s in stats):
            found.append(_Attacked(row, *stats))  # type: ignore[arg-type]
    if not found:
        raise nothing_to_draw("no inversion records", dataset, protocol, preset, "table9")
    fig = Figure(figsize=(10, 0.45 * len(found) + 1.8), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    ys = list(range(len(found)))[::-1]
    for y, item in zip(ys, found, strict=True):
        left.plot(item.raw.mean, y, "|", color="grey", ms=14)
        left.annotate(
            "", (item.inverted.mean, y), (item.anonymized.mean, y),
            arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1.5},
        )  # fmt: skip
        left.plot(item.anonymized.mean, y, "o", color="tab:blue")
        left.plot(item.inverted.mean, y, "o", color="tab:red")
        first = y == ys[0]
        right.barh(y - 0.18, item.psnr_before.mean, 0.36, color="tab:blue",
                   label="fA*(test)" if first else None)  # fmt: skip
        right.barh(y + 0.18, item.psnr_after.mean, 0.36, color="tab:red",
                   label="g(fA*(test))" if first else None)  # fmt: skip
    left.plot([], [], "|", color="grey", ms=14, label="raw test")
    left.plot([], [], "o", color="tab:blue", label="fA*(test)")
    left.plot([], [], "o", color="tab:red", label="g(fA*(test)): after the attack")
    left.set_yticks(ys, [item.row.label for item in found])
    left.set_xlabel("cMAP of a raw-trained fB' (%), lower is more private")
    left.legend(loc="best", fontsize=8)
    left.grid(alpha=0.3)
    right.set_xlabel("PSNR against raw test (dB)")
    right.legend(loc="best", fontsize=8)
    right.grid(alpha=0.3, axis="x")
    fig.suptitle(fitted_title(fig, f"Inversion attack ({dataset}, {protocol}, {preset})"))
    return fig
