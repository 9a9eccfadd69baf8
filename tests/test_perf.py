from pathlib import Path

import pytest

from bench.perf.cold_runs import FIXED_BASELINES, Timed, baseline_checks, main_job_checks


def _timed(seconds: float, top1: float, cmap: float) -> Timed:
    metrics = {"action_top1": top1, "privacy_cmap": cmap, "privacy_f1": 0.5}
    return Timed(("--method", "x"), seconds, {"metrics": metrics})


def test_main_job_checks_compare_penalty_with_raw() -> None:
    raw = _timed(50.0, top1=0.98, cmap=0.99)  # raw alone: <= 60 s
    met = {name: ok for name, _, _, ok in main_job_checks(raw, _timed(200.0, 0.80, 0.80))}
    assert all(met.values())
    # top-1 ratio 0.7 / 0.98 < 0.8; drop 0.99 - 0.90 < 0.15; 301 s over the budget
    missed = {name: ok for name, _, _, ok in main_job_checks(raw, _timed(301.0, 0.70, 0.90))}
    assert not missed["penalty action top-1 / raw"]
    assert not missed["raw cMAP - penalty cMAP"]
    assert not missed["wall: bench run --method penalty --B 0.3"]
    assert missed["raw privacy cMAP"]


def test_baseline_checks_flag_runs_over_two_minutes() -> None:
    runs = [Timed(args, 60.0 + 30 * i, {}) for i, args in enumerate(FIXED_BASELINES)]
    met = [ok for _, _, _, ok in baseline_checks(runs)]
    assert met == [True, True, False, False, False]  # 60, 90 s pass; 120, 150, 180 s do not


def test_anonymize_speed_times_each_case_through_the_real_pipeline() -> None:
    """`bench perf --anonymize` at a toy size: one row per resolution and backend for the
    model, one without a model, each over every frame of its video."""
    import pytest
    import torch

    from bench.perf.anonymize_speed import measure_anonymize

    pytest.importorskip("onnxruntime")
    speeds = measure_anonymize(torch.device("cpu"), frames=8, models=("tiny",), sizes=((48, 32),))
    cases = {(s.model, s.resolution, s.backend) for s in speeds}
    assert cases == {("none", "native", "torch")} | {
        ("tiny", r, b) for r in ("trained", "native") for b in ("torch", "onnxruntime")
    }
    assert all(s.frames == 8 and s.size == (48, 32) and s.fps > 0 for s in speeds)


@pytest.mark.slow  # six short runs, two of them under the FLOP counter: about a minute
def test_profile_counts_each_stages_flops_against_a_measured_peak(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench perf --profile` at a toy size: every stage of both cells with its wall time;
    the stages that train count FLOPs, and the peak is a real measurement."""
    from tests.conftest import FAST
    from tests.test_cli import bench

    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache_dir))
    code, out = bench("perf", "--profile", *FAST)
    assert code == 0, out
    assert "bench perf --profile: raw" in out and "bench perf --profile: penalty" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 6}
    for stage in ("minimax", "utility_eval", "privacy_eval", "total"):
        gflop = float(rows[stage].split("│")[3])
        assert gflop > 0, rows[stage]
    peak = float(out.split("peak: ")[1].split(" GFLOP/s")[0])
    assert peak > 1.0
