"""`bench figure` and `bench report` on records in the real results store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_record, stored
from test_cli import bench


def losses(start: float) -> list[dict[str, float]]:
    return [
        {"epoch": float(e), "loss_a": start - e, "loss_b": start + e, "loss_t": 1.0}
        for e in range(3)
    ]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    stored(
        root,
        make_record("raw", top1=0.98, cmap=0.99),
        make_record("spact", top1=1.0, cmap=0.91, minimax=losses(3.0)),
        make_record("penalty", {"B": 0.5}, top1=0.94, cmap=0.90, minimax=losses(2.0)),
        make_record("penalty", {"B": 0.3, "lam": 0.5}, top1=0.96, cmap=0.92),
        make_record("raw", protocol="novel", top1=0.88, cmap=0.98),
    )
    return root


def test_figure_writes_png_and_pdf(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    code, text = bench(
        "figure", "pareto", "--results-dir", str(results), "--out", str(out), "--pdf"
    )
    assert code == 0, text
    assert (out / "pareto-known.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "pareto-known.pdf").read_bytes().startswith(b"%PDF")
    code, text = bench("figure", "ablation", "--results-dir", str(results))
    assert code == 0 and (results / "figures" / "ablation-known.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["histogram"], "figures: pareto, frames, curves, ablation"),
        (["curves", "--protocol", "novel"], "bench sweep"),
        (["pareto", "--protocol", "pretrained-attack"], "scores no action top-1"),
        (["pareto", "--dataset", "ucf101"], "unknown dataset 'ucf101'; known datasets:"),
    ],
)
def test_figure_errors_are_one_line(results: Path, args: list[str], message: str) -> None:
    code, text = bench("figure", *args, "--results-dir", str(results))
    assert code == 2 and message in text and "Traceback" not in text


def test_report_has_every_table_and_figure_the_records_feed(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, text = bench("report", "--results-dir", str(results), "--out", str(out))
    assert code == 0, text
    report = (out / "report.md").read_text()
    # tables with records are rendered (with the published numbers) and saved as md and LaTeX
    assert "| Ours (B = 0.5) " in report and "94.00 (↓ 4.00)" in report and "78.88" in report
    assert (out / "tables" / "table1.tex").read_text().startswith("\\documentclass")
    assert "No records feed Table 6" in report and not (out / "tables" / "table6.md").exists()
    # missing cells name what fills them: the shipped sweep when it plans the cell ...
    assert "- Synthetic A / P1: no record for Downsample-2x, Downsample-4x" in report
    assert "`bench sweep table1`" in report
    assert "- Synthetic A / P1: no record for λ = 0.0, λ = 0.1" in report
    assert "`bench sweep table3`" in report
    assert "UCF101 / VISPR1, PA-HMDB, VPHMDB: no records: `bench sweep table1-paper" in report
    # figures: drawn where records feed them, else why not
    for name in ("pareto-known", "curves-known", "ablation-known"):
        assert f"(figures/{name}.png)" in report
        assert (out / "figures" / f"{name}.png").is_file()
    assert "Not drawn: no stored anonymizer" in report


def test_report_names_the_exact_run_where_no_sweep_plans_the_cell(tmp_path: Path) -> None:
    root = tmp_path / "results"
    fast = {"anon_epochs": "1"}  # no shipped sweep runs at this setting
    stored(
        root,
        make_record("raw", top1=0.98, cmap=0.99, overrides=fast),
        make_record("penalty", {"B": 0.5}, top1=0.94, cmap=0.90, overrides=fast),
    )
    code, text = bench("report", "--results-dir", str(root), "--out", str(tmp_path / "report"))
    assert code == 0, text
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| Raw data " in report and "94.00 (↓ 4.00)" in report  # raw serves the setting
    assert (
        "`bench run --method penalty --B 0.3 --protocol known --dataset synthetic --preset tiny "
        "--set anon_epochs=1`"
    ) in report
