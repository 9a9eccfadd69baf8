"""The calibration of the synthetic benchmark against the paper's fixed rows (C1-C7): the
targets read from records, the rank correlation, and the mean-colour reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.contract.dataset import ImageArray
from bench.data.frame_store import TensorFrames
from bench.datasets.synthetic import P1
from bench.reports.calibration import (
    calibration_checks,
    mean_colour_ap,
    render_calibration,
    spearman,
)
from tests.conftest import make_record, stored
from tests.test_cli import bench

# (top-1, cMAP) per row, built so that every drop lands in its band: raw 0.80 / 0.80
CALIBRATED: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[float, float]] = {
    ("raw", ()): (0.80, 0.80),
    ("blur", (("strength", "weak"),)): (0.63, 0.79),  # drops 21 % / 1 %
    ("downsample", (("factor", 2),)): (0.54, 0.72),  # 32 % / 10 %
    ("blackening", ()): (0.53, 0.70),  # 34 % / 12 %
    ("blur", (("strength", "strong"),)): (0.56, 0.69),  # 30 % / 14 %
    ("downsample", (("factor", 4),)): (0.40, 0.62),  # 50 % / 22 %
}
CHANCE = dict.fromkeys(P1, 0.4)
# fB' AP per attribute: three strictly between chance + 0.1 and 0.95 (C6)
GRADED_AP = dict(zip(P1, (0.6, 0.7, 0.8, 0.99, 0.45, 0.97, 1.0), strict=True))


def _records(root: Path, scale: dict[str, float] | None = None) -> Any:
    rows = []
    for seed, shift in enumerate((0.0, 0.01, -0.01)):
        for (method, params), (top1, cmap) in CALIBRATED.items():
            top1 *= (scale or {}).get(method, 1.0)
            record = make_record(method, dict(params), top1=top1 + shift, cmap=cmap, seed=seed)
            record["details"] = {"privacy_ap": GRADED_AP}
            rows.append(record)
    return stored(root, *rows)


def test_calibrated_records_meet_every_target_read_from_records(tmp_path: Path) -> None:
    checks, stats = calibration_checks(_records(tmp_path), "tiny", CHANCE, None)
    holds = {(c.target, c.asks): c.holds for c in checks}
    assert all(h for (target, _), h in holds.items() if target != "C5"), holds
    assert holds[next(k for k in holds if k[0] == "C5")] is None  # the data was not read
    assert stats["Raw data"]["action_top1"].n == 3
    text = render_calibration(checks, stats, "tiny")
    assert "| Downsample-4x | 40.0 ± 1.0 | 50.0 | 49.7 |" in text


def test_a_missed_target_says_no_and_what_was_measured(tmp_path: Path) -> None:
    # downsampling as mild as weak blur: C3's bands and spread fail
    records = _records(tmp_path, {"downsample": 1.5})
    checks, _ = calibration_checks(records, "tiny", CHANCE, None)
    failed = {c.asks: c.measured for c in checks if c.holds is False}
    assert "Downsample-4x action drop in [42, 56]" in failed
    assert failed["Downsample-4x action drop in [42, 56]"] == "25.0 %"
    assert any("4x action drop - weak blur's" in asks for asks in failed)


def test_spearman_matches_the_textbook_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert abs(spearman([1, 2, 2, 3], [1, 3, 2, 4]) - 0.9486832980505138) < 1e-12  # ties


def _tinted(n: int, seed: int) -> ImageArray:
    """Noise images; attribute 0 shifts the mean colour (a giveaway), attribute 1 is a
    zero-mean checker (invisible in the mean)."""
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 8, 8, 3, generator=g) * 100 + 60).round()
    targets = (torch.rand(n, 2, generator=g) > 0.5).float()
    images[targets[:, 0] > 0, :, :, 0] += 40
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 60 - 30
    images[targets[:, 1] > 0] += checker[..., None]
    frames = images.clamp(0, 255).to(torch.uint8).unsqueeze(1)
    return ImageArray(TensorFrames(frames), targets)


def test_the_mean_colour_reader_finds_a_tint_and_not_a_pattern() -> None:
    aps = mean_colour_ap(_tinted(300, 0), _tinted(200, 1))
    assert aps["0"] > 0.95 and aps["1"] < 0.7, aps


def test_bench_calibrate_prints_the_targets(tmp_path: Path, cache_dir: Path) -> None:
    _records(tmp_path)
    code, out = bench("calibrate", "--results-dir", str(tmp_path), "--cache-dir", str(cache_dir))
    assert code == 0, out
    assert "| C5 | mean-colour reader AP < 0.95" in out
    assert "| C4 | Spearman with the paper's Table 1 (action_top1) >= 0.8 | +" in out
