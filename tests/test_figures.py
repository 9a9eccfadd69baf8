"""Figures drawn from real stored records (and, for frames, real stored fA* checkpoints)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import make_record, stored
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from torch import nn

from bench.contract.config import PRESETS
from bench.contract.dataset import DATASETS, to_float_clip, to_uint8
from bench.contract.errors import BenchError
from bench.models.anonymizer import FrameAnonymizer
from bench.reports.figure_kit import save_figure
from bench.reports.figures import ablation_figure, curves_figure, pareto_figure, pareto_front
from bench.reports.frames_figure import frames_figure
from bench.store.reading import RecordSet
from bench.store.results import ResultsStore
from bench.training.fits import CHECKPOINT


def history(start: float, epochs: int = 4) -> list[dict[str, float]]:
    return [
        {"epoch": float(e), "loss_a": start - e, "loss_b": start + e, "loss_t": start - 0.1 * e}
        for e in range(epochs)
    ]


def errorbars(ax: Axes) -> dict[str, ErrorbarContainer]:
    return {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}


def legend_labels(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_pareto_front_keeps_exactly_the_non_dominated_points() -> None:
    points = [(50.0, 90.0), (60.0, 95.0), (55.0, 80.0), (40.0, 70.0), (60.0, 95.0), (70.0, 94.0)]
    assert pareto_front(points) == [3, 0, 1, 4]  # by privacy; equal points both stay


def test_pareto_draws_each_setting_and_its_front(tmp_path: Path) -> None:
    records = stored(
        tmp_path,
        make_record("raw", top1=0.98, cmap=0.99),
        make_record("downsample", {"factor": 4}, top1=0.95, cmap=0.66),
        make_record("blur", {"strength": "weak"}, top1=0.97, cmap=0.74),
        make_record("spact", top1=1.0, cmap=0.91),
        make_record("penalty", {"B": 0.3}, top1=1.0, cmap=0.89),
        make_record("penalty", {"B": 0.5}, top1=0.94, cmap=0.90),
        make_record("penalty", {"B": 0.3, "lam": 0.5}, top1=0.5, cmap=0.1),  # an ablation
        make_record("raw", protocol="novel", top1=0.1, cmap=0.1),  # another protocol
    )
    ax = pareto_figure(records).axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert labels == {
        "Raw data", "Downsample-4x", "Obf-WeakBlur", "SPAct", "Ours (B = 0.3)", "Ours (B = 0.5)"
    }  # fmt: skip
    (front,) = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
    assert np.allclose(front.get_xdata(), [66, 74, 89]) and np.allclose(
        front.get_ydata(), [95, 97, 100]
    )
    assert front.get_drawstyle() == "steps-post"
    assert not any(c.has_xerr or c.has_yerr for c in ax.containers)  # one seed: no error bars
    assert "lower is better" in ax.get_xlabel() and "privacy cMAP (%)" in ax.get_xlabel()
    assert "higher is better" in ax.get_ylabel() and "action top-1 (%)" in ax.get_ylabel()
    assert {"Pareto front", "raw (no anonymization)", "penalty (ours)"} <= set(legend_labels(ax))


def test_pareto_error_bars_over_two_seeds(tmp_path: Path) -> None:
    records = stored(
        tmp_path,
        make_record("raw", top1=0.98, cmap=0.99),
        make_record("penalty", {"B": 0.3}, top1=0.90, cmap=0.80, seed=0),
        make_record("penalty", {"B": 0.3}, top1=0.96, cmap=0.86, seed=1),
    )
    raw, penalty = pareto_figure(records).axes[0].containers
    assert not (raw.has_xerr or raw.has_yerr)
    assert penalty.has_xerr and penalty.has_yerr
    assert np.allclose(penalty.lines[0].get_xydata(), [[83.0, 93.0]])  # the mean over seeds


def test_curves_one_line_per_setting_in_each_loss_panel(tmp_path: Path) -> None:
    records = stored(
        tmp_path,
        make_record("penalty", {"B": 0.5}, minimax=history(3.0)),
        make_record("penalty", {"B": 0.9}, minimax=history(2.0), seed=0),
        make_record("penalty", {"B": 0.9}, minimax=history(4.0), seed=1),
        make_record("spact", minimax=history(9.0)),  # not a default setting
    )
    axes = curves_figure(records).axes
    assert [ax.get_title()[:3] for ax in axes] == ["(a)", "(b)", "(c)"]
    for ax, key in zip(axes, ("loss_a", "loss_b", "loss_t"), strict=True):
        assert [line.get_label() for line in ax.get_lines()] == ["B = 0.5", "B = 0.9"]
        b05, b09 = ax.get_lines()
        assert np.allclose(b05.get_ydata(), [row[key] for row in history(3.0)])
        assert np.allclose(b09.get_ydata(), [row[key] for row in history(3.0)])  # seed mean
        assert len(ax.collections) == 1  # a std band for the two-seed setting only
        assert ax.get_xlabel() == "minimax epoch"


def test_curves_draw_every_budget_the_records_have(tmp_path: Path) -> None:
    """The README's own B = 0.3 run is drawn (the paper's Figure 5 has 0.5, 0.7, 0.9 only)."""
    records = stored(tmp_path, make_record("penalty", {"B": 0.3}, minimax=history(3.0)))
    fig = curves_figure(records)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["B = 0.3"]
    records = stored(tmp_path / "no-history", make_record("penalty", {"B": 0.3}))
    with pytest.raises(BenchError, match="no minimax training history of B = 0.3"):
        curves_figure(records)


def test_a_long_preset_label_wraps_in_the_title(tmp_path: Path) -> None:
    overrides = {"action_epochs": "3", "privacy_epochs": "3", "anon_epochs": "2", "frames": "6"}
    records = stored(tmp_path, make_record("penalty", {"B": 0.3}, overrides=overrides))
    fig = pareto_figure(records)
    title = fig.axes[0].get_title()
    assert "frames=6" in title and "\n" in title
    assert max(len(line) for line in title.splitlines()) <= fig.get_figwidth() * 9


def test_ablation_against_budget_and_lambda(tmp_path: Path) -> None:
    records = stored(
        tmp_path,
        make_record("raw", top1=0.98, cmap=0.99),
        *(make_record("penalty", {"B": b}, top1=0.9, cmap=0.8) for b in (0.0, 0.3, 1.0)),
        make_record("penalty", {"B": 0.5}, top1=0.8, cmap=0.7, seed=0),
        make_record("penalty", {"B": 0.5}, top1=0.9, cmap=0.7, seed=1),
        *(make_record("penalty", {"B": 0.3, "lam": lam}) for lam in (0.0, 0.5)),
        make_record("penalty", {"B": 0.5, "lam": 0.5}),  # in neither panel
        make_record("penalty", {"B": 0.3, "penalty_grad": "detached"}),  # in neither panel
    )
    by_b, by_lam = ablation_figure(records).axes
    for ax, xs in ((by_b, [0.0, 0.3, 0.5, 1.0]), (by_lam, [0.0, 0.5, 1.0])):
        series = errorbars(ax)
        assert set(series) == {"action top-1 (%)", "privacy cMAP (%)"}
        assert np.allclose(series["action top-1 (%)"].lines[0].get_xdata(), xs)
        dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert sorted(line.get_ydata()[0] for line in dashed) == pytest.approx([98.0, 99.0])
    assert np.allclose(errorbars(by_b)["action top-1 (%)"].lines[0].get_ydata()[2], 85.0)
    assert errorbars(by_b)["action top-1 (%)"].has_yerr  # B = 0.5 has two seeds
    assert not errorbars(by_lam)["action top-1 (%)"].has_yerr
    assert "B" in by_b.get_xlabel() and "λ" in by_lam.get_xlabel()


Draw = Callable[[RecordSet], Figure]


@pytest.mark.parametrize(
    ("draw", "sweep"),
    [
        (pareto_figure, "bench sweep table1"),
        (lambda r: pareto_figure(r, protocol="novel"), "bench sweep table2"),
        (curves_figure, "bench sweep table1"),
        (ablation_figure, "bench sweep figure3"),
        (frames_figure, "bench sweep table1"),
    ],
)
def test_a_figure_with_nothing_to_draw_names_the_sweep(
    tmp_path: Path, draw: Draw, sweep: str
) -> None:
    with pytest.raises(BenchError, match=sweep):
        draw(stored(tmp_path))


def test_pareto_needs_a_protocol_that_scores_action(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no action top-1"):
        pareto_figure(stored(tmp_path), protocol="pretrained-attack")


def test_save_figure_writes_png_and_pdf(tmp_path: Path) -> None:
    records = stored(tmp_path / "results", make_record("raw"))
    fig = pareto_figure(records)
    paths = save_figure(fig, tmp_path / "figures" / "sub" / "pareto", ("png", "pdf"))
    assert [p.name for p in paths] == ["pareto.png", "pareto.pdf"]
    assert paths[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert paths[1].read_bytes().startswith(b"%PDF")
    with pytest.raises(BenchError, match="not supported"):
        save_figure(fig, tmp_path / "x", ("docx",))


def store_anonymizer(root: Path, record: dict[str, Any], seed: int) -> FrameAnonymizer:
    """A real tiny fA saved where a fit stores it; its head is randomised so it is not the
    identity (a stand-in for a trained one: training takes minutes)."""
    p = PRESETS["tiny"]
    torch.manual_seed(seed)
    fa = FrameAnonymizer(p.anon_encoder, p.anon_depth, p.anon_decoder, p.anon_residual)
    nn.init.normal_(fa.net.segmentation_head[0].weight, std=0.5)
    path = ResultsStore(root).fit_dir(record["fit_key"]) / CHECKPOINT
    path.parent.mkdir(parents=True)
    torch.save(fa.state_dict(), path)
    return fa.eval()


def test_frames_grid_shows_raw_then_each_stored_anonymizer(tmp_path: Path, cache_dir: Path) -> None:
    b03 = make_record("penalty", {"B": 0.3})
    b07 = make_record("penalty", {"B": 0.7}, protocol="novel")  # any protocol's fit will do
    fa = store_anonymizer(tmp_path, b03, seed=0)
    store_anonymizer(tmp_path, b07, seed=1)
    no_fit = make_record("penalty", {"B": 0.5})  # its row is left out
    fig = frames_figure(stored(tmp_path, b03, b07, no_fit), cache_dir=cache_dir, clips=4)

    grid = np.array(fig.axes).reshape(3, 4)
    assert [row[0].get_ylabel() for row in grid] == ["raw", "B = 0.3", "B = 0.7"]
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    assert [ax.get_title() for ax in grid[0]] == list(data.action.classes[:4])
    images = [[np.asarray(ax.images[0].get_array()) for ax in row] for row in grid]
    test = data.action.splits.test
    first = int((test.labels == 0).nonzero()[0, 0])
    middle = test.videos.read(first)[test.videos.length(first) // 2]
    assert np.array_equal(images[0][0], middle.numpy())  # the raw row is the real test frame
    with torch.no_grad():
        expected = to_uint8(fa(to_float_clip(middle[None], 32)[None]))[0, :, 0].permute(1, 2, 0)
    assert np.array_equal(images[1][0], expected.numpy())  # the stored fA*, applied
    for c in range(4):
        assert images[1][c].shape == (32, 32, 3)
        assert not np.array_equal(images[1][c], images[0][c])
        assert not np.array_equal(images[2][c], images[1][c])
