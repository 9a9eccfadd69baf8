"""A key means what it says, and keys travel (issue 30's probes, as tests).

A record is served only for the cell its file names and its config hashes to; keys hash the
results schema, not the package version, and the data's identity, not where it is mounted;
an older record is adopted under its new key, never recomputed; another machine's records
merge in; a lock survives a cleanup job deleting its file; a missing pretrained checkpoint of
the auxiliary models stops the run or, with --allow-scratch, says so in the key and label.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bench.contract.config as config_module
from bench.api import config as cell_config
from bench.cli.app import app
from bench.contract.config import legacy_digest
from bench.contract.locks import exclusive, lock_path
from bench.data import sample_trees as fx
from bench.orchestration.runner import settle_aux_inits
from bench.store.merge import merge_stores
from bench.store.reading import RecordSet, preset_label
from bench.store.results import ResultsStore
from tests.conftest import FAST, make_record

runner = CliRunner()
SETTINGS = dict(arg.split("=", 1) for arg in FAST[1::2])


def bench(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.output


def raw_run(results: Path, cache: Path, seed: int = 0, *extra: str) -> tuple[int, str]:
    return bench("run", "--method", "raw", "--no-reference", "--seed", str(seed), *FAST,
                 "--results-dir", str(results), "--cache-dir", str(cache), *extra)  # fmt: skip


def raw_record(seed: int, top1: float = 0.9) -> dict[str, Any]:
    return make_record("raw", seed=seed, top1=top1, overrides=SETTINGS)


def test_a_record_copied_over_another_cells_file_is_not_served(
    tmp_path: Path, cache_dir: Path
) -> None:
    store = ResultsStore(tmp_path)
    seed0, seed1 = raw_record(0, top1=0.5), raw_record(1, top1=0.7)
    store.save(seed0)
    store.save(seed1)
    shutil.copy(store.record_path(seed1["key"]), store.record_path(seed0["key"]))
    records = RecordSet.load(tmp_path)
    assert [r["seed"] for r in records.records] == [1]  # the impostor is left out of tables
    [why] = records.skipped
    assert f"holds the record of {seed1['key']}, not of {seed0['key']}" in why
    code, out = raw_run(tmp_path, cache_dir, 0)
    assert code == 0, out
    assert "record exists" not in out and "computing it again" in out
    served = json.loads(store.record_path(seed0["key"]).read_text())
    assert served["seed"] == 0 and served["key"] == seed0["key"]


def test_a_record_whose_config_was_edited_is_not_served(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    record = raw_record(0)
    path = store.save(record)
    edited = json.loads(path.read_text())
    edited["config"]["seed"] = 5
    path.write_text(json.dumps(edited))
    assert not store.exists(record["key"])
    assert "the config was edited" in RecordSet.load(tmp_path).skipped[0]


def test_keys_do_not_hash_the_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = cell_config("penalty", settings=SETTINGS)
    before = (cfg.key(), cfg.fit_key())
    monkeypatch.setattr(config_module, "CODE_VERSION", "9.9.9")
    assert (cfg.key(), cfg.fit_key()) == before
    monkeypatch.setattr(config_module, "RESULTS_SCHEMA", config_module.RESULTS_SCHEMA + 1)
    assert cfg.key() != before[0] and cfg.fit_key() != before[1]


def test_a_record_of_before_the_schema_is_adopted_not_recomputed(
    tmp_path: Path, cache_dir: Path
) -> None:
    store = ResultsStore(tmp_path)
    record = raw_record(0, top1=0.123)
    old_key = legacy_digest(record["config"])  # what the package version 0.1.0 stored it as
    assert old_key != record["key"]
    store.save({**record, "key": old_key})
    assert RecordSet.load(tmp_path).skipped == []  # older records stay readable
    code, out = raw_run(tmp_path, cache_dir, 0)
    assert code == 0, out
    assert "record exists" in out and "0.123" in out  # the stored metrics, not a new run
    assert not store.record_path(old_key).exists()
    adopted = json.loads(store.record_path(record["key"]).read_text())
    assert adopted["legacy_key"] == old_key and adopted["metrics"]["action_top1"] == 0.123


def test_a_record_merged_from_another_mount_of_the_data_is_served(
    tmp_path: Path, cache_dir: Path
) -> None:
    ucf = fx.make_ucf101(tmp_path / "a" / "ucf101", frames=20)
    vispr = fx.make_vispr(tmp_path / "a" / "vispr")
    moved = tmp_path / "b"
    shutil.copytree(tmp_path / "a", moved)  # the same files, another mount point

    def run(root: Path, results: Path) -> tuple[int, str]:
        return bench(
            "run", "--method", "raw", "--dataset", "ucf101-vispr1", "--no-reference",
            "--data-root", f"ucf101={root / 'ucf101'}", "--data-root", f"vispr={root / 'vispr'}",
            "--results-dir", str(results), "--cache-dir", str(cache_dir),
            "--set", "action_batch=4", "--set", "privacy_batch=4", *FAST,
        )  # fmt: skip

    code, out = run(tmp_path / "a", tmp_path / "cluster1")
    assert code == 0, out
    code, out = bench("records", "merge", str(tmp_path / "cluster1"),
                      "--results-dir", str(tmp_path / "cluster2"))  # fmt: skip
    assert code == 0, out
    assert "records: 1 added" in out
    code, out = run(moved, tmp_path / "cluster2")
    assert code == 0, out
    assert "record exists" in out  # served, not recomputed
    [record] = RecordSet.load(tmp_path / "cluster2").records
    assert record["config"]["data_roots"]["ucf101"] == str((tmp_path / "a" / "ucf101").resolve())
    assert ucf.exists() and vispr.exists()
    # other data (one more video) is another cell
    (moved / "ucf101" / "UCF-101" / "Archery" / "v_Archery_g01_c01.avi").write_bytes(b"x" * 10)
    assert (
        cell_config(
            "raw",
            dataset="ucf101-vispr1",
            data_roots={"ucf101": moved / "ucf101", "vispr": moved / "vispr"},
            settings={**SETTINGS, "action_batch": "4", "privacy_batch": "4"},
        ).key()
        != record["key"]
    )


def test_a_merge_refuses_conflicts_and_overwrites_nothing(tmp_path: Path) -> None:
    mine, theirs = ResultsStore(tmp_path / "mine"), ResultsStore(tmp_path / "theirs")
    same, new = raw_record(0), raw_record(1)
    mine.save({**raw_record(2, top1=0.4)})
    theirs.save(raw_record(2, top1=0.6))  # the same cell with another result
    for record in (same, new):
        theirs.save(record)
    mine.save(same)
    before = mine.record_path(raw_record(2)["key"]).read_bytes()
    report = merge_stores(theirs, mine)
    assert report.records_added == [new["key"]] and report.records_same == [same["key"]]
    assert len(report.conflicts) == 1 and raw_record(2)["key"] in report.conflicts[0]
    assert mine.record_path(raw_record(2)["key"]).read_bytes() == before
    code, out = bench("records", "merge", str(tmp_path / "theirs"),
                      "--results-dir", str(tmp_path / "mine"))  # fmt: skip
    assert code == 1 and "conflict: record" in out


def test_a_lock_whose_file_is_deleted_still_keeps_a_second_worker_out(tmp_path: Path) -> None:
    target = tmp_path / "cell"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import time, pathlib; from bench.contract.locks import exclusive\n"
            f"with exclusive(pathlib.Path({str(target)!r}), 'cell'):\n"
            "    print('held', flush=True); time.sleep(8)\n"
            "print('released', flush=True)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    lock_path(target).unlink()  # a cleanup job: rm results/locks/*.lock
    time.sleep(2.5)  # the holder puts a locked file back
    entered = threading.Event()

    def second() -> None:
        with exclusive(target, "cell", lambda _: None):
            entered.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not entered.wait(2.0)  # still held by the first worker
    holder.wait(timeout=30)
    assert entered.wait(10.0)
    thread.join()


def test_empty_results_dir_variable_is_refused(tmp_path: Path) -> None:
    code, out = bench("table", "1", env={"BENCH_RESULTS_DIR": ""})
    assert code == 2 and "BENCH_RESULTS_DIR is set but empty" in out


def test_a_missing_auxiliary_checkpoint_stops_the_run_or_is_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no checkpoint anywhere
    small = ["--set", "frames=4", "--set", "ssl_frame_gap=2"]  # clips the synthetic videos hold
    code, out = bench("run", "--method", "penalty", "--preset", "paper", "--no-reference", *small,
                      "--results-dir", str(tmp_path / "r"), "--cache-dir", str(cache))  # fmt: skip
    assert code == 2, out
    flat = " ".join(out.split())
    assert "--set aux_ft_init=kinetics400" in flat and "https://" in flat
    assert "--allow-scratch" in flat and not (tmp_path / "r" / "records").exists()
    cfg = cell_config("penalty", preset="paper", settings={"frames": "4", "ssl_frame_gap": "2"})
    settled = settle_aux_inits(cfg, cache, allow_scratch=True)
    assert settled.preset.aux_ft_init == "scratch" and settled.preset.aux_fb_init == "scratch"
    assert settled.key() != cfg.key() and settled.fit_key() != cfg.fit_key()
    label = preset_label(settled.canonical()["preset"])
    assert "aux_ft_init=scratch" in label and "aux_fb_init=scratch" in label


def test_one_cell_stored_under_two_keys_is_reported(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    record = raw_record(0, top1=0.5)
    store.save(record)
    older = {**record, "key": legacy_digest(record["config"]), "created": "2025-01-01T00:00:00"}
    store.save(older)  # e.g. merged in from a machine that never adopted it
    loaded = RecordSet.load(tmp_path)
    [line] = loaded.skipped
    assert "2 records of one cell (raw known synthetic seed 0)" in line
    assert record["key"] in line and older["key"] in line


def test_a_fit_with_a_damaged_log_is_still_found_by_its_key(
    tmp_path: Path, penalty_run: tuple[Path, str]
) -> None:
    results = tmp_path / "results"
    shutil.copytree(penalty_run[0], results)
    [fit] = [p for p in (results / "fits").iterdir() if p.is_dir()]
    (fit / "fit.json").write_text("{not json")
    code, out = bench("fits", fit.name[:6], "--results-dir", str(results))
    assert code == 0, out
    flat = " ".join(out.split())
    assert f"fit {fit.name}" in flat and "penalty" in flat  # its config from the records
    assert "training log is damaged" in flat and "no stored fit has this key" not in flat
