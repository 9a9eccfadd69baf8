"""Tests of the pixelate plug-in: what is special about it, and one short run through `known`.

Copy this beside your method as `tests/test_<name>.py` and change the first test to what
is special about your method. (`tests/test_contract.py` already checks the contract of
every registered method: output shape and range, parameter validation, state round trip.)
"""

from __future__ import annotations

from pathlib import Path

import torch

import bench
from bench.contract.method import METHODS
from bench.contract.plugins import load_plugin

PLUGIN = Path(__file__).with_name("pixelate.py")  # or drop this for a file in methods/
QUICK = {"frame_size": 16, "action_epochs": 2, "privacy_epochs": 2}  # seconds, not minutes


def test_pixelate_shows_block_squares_of_the_mean_colour() -> None:
    load_plugin(PLUGIN)
    clip = torch.rand(1, 3, 2, 16, 16)
    out = METHODS.get("pixelate")(block=4).anonymize(clip)
    assert out.shape == clip.shape
    squares = out.unfold(-2, 4, 4).unfold(-2, 4, 4)  # (..., 4, 4, 4, 4): each square
    assert torch.allclose(squares.amax((-1, -2)), squares.amin((-1, -2)))  # one colour each
    assert torch.allclose(out.mean(), clip.mean(), atol=1e-5)  # the mean colours are kept


def test_pixelate_runs_through_known(tmp_path: Path) -> None:
    record = bench.run(
        method="pixelate",
        block=4,
        protocol="known",
        settings=QUICK,
        plugins=[PLUGIN],
        results_dir=tmp_path,  # the data cache is $BENCH_CACHE_DIR or ~/.cache/privbench
        quiet=True,
    )
    assert set(record.metrics) >= {"action_top1", "privacy_cmap", "privacy_f1"}
    assert all(0.0 <= v <= 1.0 for v in record.metrics.values())
