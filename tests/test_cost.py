"""The cost of an anonymizer: measured by every run into its record, backfilled into older
records by `bench records cost`, shown by `bench table --cost` and the flat rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from bench.contract.method import METHODS
from bench.store.reading import RecordSet
from bench.store.results import ResultsStore
from bench.training.cost import measure_cost, parameter_count
from tests.conftest import FAST, make_record
from tests.test_cli import bench
from tests.test_contract import TINY_FIT, context, synthetic

FIELDS = {"parameters", "flops_per_frame", "fps", "fps_320x240", "frame_size", "deploy_size",
          "batch_frames", "device", "precision"}  # fmt: skip


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_has_a_measurable_cost(name: str, tmp_path: Path, cache_dir: Path) -> None:
    """Every registered method (plug-ins too) fits, then its cost is measured: a learned one
    counts its fA's parameters and convolutions, a fixed one has no parameters; speeds are
    finite and positive at the working size and at 320x240."""
    cls = METHODS.get(name)
    ctx = context(tmp_path, cache_dir, **(TINY_FIT if cls.trainable else {}))
    method = cls()
    method.fit(synthetic(cache_dir), ctx)
    cost = measure_cost(method, ctx, min_seconds=0.01).as_dict()
    assert set(cost) == FIELDS
    assert all(math.isfinite(cost[k]) and cost[k] > 0 for k in ("fps", "fps_320x240"))
    assert cost["frame_size"] == ctx.preset.frame_size and cost["device"] == "cpu"
    if cls.trainable:
        fa = method.fa  # type: ignore[attr-defined]
        assert cost["parameters"] == sum(p.numel() for p in fa.parameters()) > 0
        assert cost["flops_per_frame"] > 0
    else:
        assert cost["parameters"] == 0


def test_flops_count_what_anonymize_computes(tmp_path: Path, cache_dir: Path) -> None:
    """Raw data costs no FLOPs; a blur is a convolution, so it costs some, and a stronger
    (wider) blur more."""
    ctx = context(tmp_path, cache_dir)
    flops = {
        label: measure_cost(METHODS.get(m)(**p), ctx, min_seconds=0.01).flops_per_frame
        for label, m, p in (
            ("raw", "raw", {}),
            ("weak", "blur", {"strength": "weak"}),
            ("strong", "blur", {"strength": "strong"}),
        )
    }
    assert flops["raw"] == 0
    assert 0 < flops["weak"] < flops["strong"]


def test_parameter_count_finds_modules_in_containers() -> None:
    """Networks held in lists or dicts are counted, each parameter once."""
    shared = torch.nn.Linear(3, 2)  # 8 parameters
    method = METHODS.get("raw")()
    method.nets = [shared, {"again": shared, "other": torch.nn.Linear(2, 1)}]  # type: ignore[attr-defined]
    assert parameter_count(method) == 8 + 3


def test_a_run_records_its_cost(tmp_path: Path, cache_dir: Path) -> None:
    """`bench run` stores the cost in the record; the flat rows and `bench table --cost`
    show it."""
    code, out = bench("run", "--method", "downsample", "--protocol", "known", "--no-reference",
                      "--results-dir", str(tmp_path), "--cache-dir", str(cache_dir), *FAST)  # fmt: skip
    assert code == 0, out
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "records").glob("*.json")]
    assert set(record["cost"]) == FIELDS and record["cost"]["parameters"] == 0
    assert "cost" in record["timings"]
    [row] = RecordSet.load(tmp_path).rows()
    assert row["cost.parameters"] == 0 and row["cost.fps"] > 0
    code, out = bench("table", "1", "--cost", "--results-dir", str(tmp_path))
    assert code == 0, out
    assert "Params" in out and "frames/s (320x240)" in out and "measured by each run on cpu" in out
    code, out = bench("figure", "pareto", "--cost", "--results-dir", str(tmp_path), "--out",
                      str(tmp_path / "figures"))  # fmt: skip
    assert code == 0 and (tmp_path / "figures" / "pareto-known.png").is_file(), out


def test_records_cost_backfills_records_without_one(tmp_path: Path, cache_dir: Path) -> None:
    """`bench records cost` measures the records that have no cost and leaves the others;
    a learned record whose fA* is not stored is skipped with the reason."""
    store = ResultsStore(tmp_path)
    blur = make_record("blur", {"strength": "weak"})
    penalty = make_record("penalty", {"B": 0.3})
    for record in (blur, penalty):
        store.save(record)
    code, out = bench("records", "cost", "--results-dir", str(tmp_path), "--device", "cpu")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "cost added to 1 record(s); 0 had one; 1 skipped" in flat
    assert "fA*" in flat and "not stored" in flat
    assert store.load(blur["key"])["cost"]["flops_per_frame"] > 0
    assert store.load(penalty["key"])["cost"] is None
    code, out = bench("records", "cost", "--results-dir", str(tmp_path), "--device", "cpu")
    assert "cost added to 0 record(s); 1 had one; 1 skipped" in " ".join(out.split())
    code, out = bench("table", "1", "--cost", "--results-dir", str(tmp_path))
    assert code == 0 and "Params" in out, out


def test_records_cost_without_records_says_so(tmp_path: Path) -> None:
    code, out = bench("records", "cost", "--results-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "no records in" in out and "--results-dir" in out
    assert not (tmp_path / "nowhere").exists()
