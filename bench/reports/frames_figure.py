"""The paper's Figure 2: raw test frames, then the same frames through each penalty
setting's stored fA* (loaded from the results dir's fits/; nothing is trained)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from bench.contract.config import stored_preset
from bench.contract.context import RunContext, quiet_cpu_context
from bench.contract.dataset import DATASETS, Benchmark, to_float_clip, to_uint8
from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.data.cache import ensure_cache_dir, resolve_cache_dir
from bench.reports.figure_kit import FALLBACK_PRESET, budget_rows, fitted_title, nothing_to_draw
from bench.reports.table_specs import Row
from bench.store.reading import RecordSet
from bench.store.results import ResultsStore
from bench.training.anonymize_splits import checked_anonymize
from bench.training.fits import CHECKPOINT, load_state

FRAME_ROWS = budget_rows(0.3, 0.5, 0.7, 0.9)


def frames_figure(
    records: RecordSet,
    dataset: str = "synthetic",
    preset: str | None = None,
    rows: Sequence[Row] = FRAME_ROWS,
    clips: int = 4,
    cache_dir: Path | None = None,
) -> Figure:
    """Middle frames of test clips of `clips` classes: raw, then through each stored fA*.

    A row per setting whose learned fA* is stored under the results dir's fits/; runs on CPU.
    """
    if records.root is None:
        raise BenchError("frames need records read with RecordSet.load (its fits/ holds fA*)")
    preset = records.preset_for(dataset, preset, FALLBACK_PRESET)
    fitted = [
        (w, r) for w in rows if (r := _fitted_record(records, w, dataset, preset)) is not None
    ]
    if not fitted:
        raise nothing_to_draw(
            f"no stored anonymizer under {records.root}/fits", dataset, "any", preset
        )
    config = fitted[0][1]["config"]
    run_preset = stored_preset(config["preset"])
    with tempfile.TemporaryDirectory() as run_dir:
        cache = ensure_cache_dir(resolve_cache_dir(cache_dir))
        ctx = quiet_cpu_context(run_preset, cache, Path(run_dir))
        roots = {name: Path(folder) for name, folder in config.get("data_roots", {}).items()}
        data = DATASETS.get(dataset)(roots).load("known", ctx)
        frames, classes = _middle_frames(data, clips, run_preset.frame_size)
        grid = [("raw", to_uint8(frames))]
        grid += [(w.label, _anonymized(records.root, r, frames, ctx)) for w, r in fitted]
    return _draw_grid(grid, classes, f"Anonymized test frames ({dataset}, {preset})")


def _fitted_record(
    records: RecordSet, row: Row, dataset: str, preset: str
) -> Mapping[str, Any] | None:
    """A record of `row` (any protocol, 'known' first) whose fA* checkpoint is stored."""
    assert records.root is not None
    protocols = sorted({v.protocol for v in records.views}, key=lambda p: (p != "known", p))
    for protocol in protocols:
        for record in records.select(row.selector(protocol, dataset), preset):
            if record.get("fit_key") and _checkpoint(records.root, record).is_file():
                return record
    return None


def _checkpoint(root: Path, record: Mapping[str, Any]) -> Path:
    return ResultsStore(root).fit_dir(record["fit_key"]) / CHECKPOINT


def _middle_frames(data: Benchmark, n: int, size: int) -> tuple[torch.Tensor, list[str]]:
    """Float (n, C, 1, size, size) middle frames of the first test video of n classes."""
    test = data.action.splits.test
    first: dict[int, int] = {}
    for i, label in enumerate(test.labels.tolist()):
        first.setdefault(int(label), i)
    chosen = [first[c] for c in sorted(first)[:n]]
    middle = [torch.tensor([test.videos.length(i) // 2]) for i in chosen]
    frames = [
        to_float_clip(test.videos.read(i, m), size) for i, m in zip(chosen, middle, strict=True)
    ]
    return torch.stack(frames), [data.action.classes[int(test.labels[i])] for i in chosen]


@torch.no_grad()
def _anonymized(
    root: Path, record: Mapping[str, Any], frames: torch.Tensor, ctx: RunContext
) -> torch.Tensor:
    """`frames` through the record's stored fA*, as uint8."""
    method = METHODS.get(record["method"])(**record["params"])
    path = _checkpoint(root, record)
    state, why = load_state(path)
    try:
        if state is None:
            raise ValueError(why)
        method.load_state_dict(state, ctx)
    except Exception as exc:  # unreadable, not a state dict, or one of other shapes
        raise BenchError(
            f"stored anonymizer {path} is unreadable ({exc}); rerun a run that uses it "
            "(it is retrained and replaced)"
        ) from None
    return to_uint8(checked_anonymize(method, frames))


def _draw_grid(
    rows: Sequence[tuple[str, torch.Tensor]], classes: Sequence[str], title: str
) -> Figure:
    """An image grid: one labelled row per (label, uint8 (N, C, 1, H, W)) pair."""
    n = len(classes)
    fig = Figure(figsize=(1.6 * n + 1.0, 1.6 * len(rows) + 0.8), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, frames) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(frames[c, :, 0].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(classes[c], fontsize=9)
        axes[r][0].set_ylabel(label)
    fig.suptitle(fitted_title(fig, title))
    return fig
