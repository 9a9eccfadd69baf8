"""`bench records` and `bench.records(...).rows() / .to_frame()`: one flat row per record of
the real store; and the records index that readers go through (`bench/store/index.py`)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_record
from test_cli import bench as cli

import bench
from bench.store.index import index_path
from bench.store.reading import RecordSet
from bench.store.results import ResultsStore

AP = {"bag": 0.61, "face_visible": 0.72}


def save(root: Path, record: dict[str, Any], age_s: float = 60.0) -> Path:
    """`record` saved by the real store, its file `age_s` old (older than the index's racy
    window, so the index keeps it)."""
    path = ResultsStore(root).save(record)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    penalty = make_record("penalty", {"B": 0.3}, top1=0.8, cmap=0.5)
    penalty["details"] = {"privacy_ap": AP}
    penalty["timings"] = {"fit": 12.5, "total": 30.0}
    save(root, penalty)
    save(root, make_record("raw", top1=0.9, cmap=0.85))
    save(root, make_record("downsample", {"factor": 4}, seed=1, evaluation={"fb_arch": "resnet18"}))
    return root


def test_rows_are_flat_with_one_column_per_parameter_metric_ap_and_timing(results: Path) -> None:
    rows = bench.records(results_dir=results).rows()
    assert len(rows) == 3 and len({tuple(r) for r in rows}) == 1  # the same columns, in order
    columns = list(rows[0])
    assert columns[:2] == ["key", "method"]
    assert columns.index("param.B") < columns.index("protocol") < columns.index("ft_arch")
    assert columns[-3:] == ["fit_key", "data_version", "created"]
    by_method = {r["method"]: r for r in rows}
    penalty, raw, down = by_method["penalty"], by_method["raw"], by_method["downsample"]
    assert penalty["param.B"] == 0.3 and raw["param.B"] is None and down["param.factor"] == 4
    assert penalty["action_top1"] == 0.8 and penalty["privacy_cmap"] == 0.5
    assert penalty["ap.bag"] == 0.61 and raw["ap.bag"] is None
    assert penalty["time.fit"] == 12.5 and penalty["time.total"] == 30.0
    assert penalty["fit_key"] and raw["fit_key"] is None
    assert (down["seed"], down["fb_arch"], down["ft_arch"], down["ft_init"]) == (
        1,
        "resnet18",
        "tiny",
        "scratch",
    )
    assert (raw["protocol"], raw["dataset"], raw["preset"]) == ("known", "synthetic", "tiny")


def test_csv_and_jsonl_round_trip(results: Path, tmp_path: Path) -> None:
    rows = bench.records(results_dir=results).rows()
    code, out = cli("records", "--format", "jsonl", "--out", str(tmp_path / "r.jsonl"),
                    "--results-dir", str(results))  # fmt: skip
    assert code == 0, out
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == rows
    code, out = cli("records", "--results-dir", str(results))  # CSV on stdout
    assert code == 0, out
    read = list(csv.DictReader(out.splitlines()))
    assert [list(r) for r in read] == [list(r) for r in rows]
    text = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
    assert read == text


def test_parquet_and_to_frame(results: Path, tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = bench.records(results_dir=results).to_frame()
    assert list(frame.columns) == list(bench.records(results_dir=results).rows()[0])
    assert frame.groupby("method")["action_top1"].mean()["raw"] == 0.9
    code, out = cli("records", "-f", "parquet", "--out", str(tmp_path / "r.parquet"),
                    "--results-dir", str(results))  # fmt: skip
    assert code == 0, out
    back = pandas.read_parquet(tmp_path / "r.parquet")
    assert list(back.columns) == list(frame.columns) and len(back) == 3
    assert back.set_index("method").loc["penalty", "param.B"] == 0.3


def test_without_pandas_or_pyarrow_the_error_names_the_extra(results: Path, tmp_path: Path) -> None:
    """In a process where neither imports: one line naming `pip install "privbench[frames]"`."""
    script = (
        "import sys\n"
        "sys.modules['pandas'] = sys.modules['pyarrow'] = None  # as if not installed\n"
        "import bench\n"
        "try:\n"
        f"    bench.records(results_dir={str(results)!r}).to_frame()\n"
        "except bench.BenchError as exc:\n"
        "    print('api:', exc)\n"
        "from bench.cli import app\n"
        f"app(['records', '-f', 'parquet', '--out', {str(tmp_path / 'r.parquet')!r},"
        f" '--results-dir', {str(results)!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines == [
        'api: a DataFrame needs pandas, which is not installed: pip install "privbench[frames]"',
        'error: --format parquet needs pyarrow, which is not installed: pip install "privbench[frames]"',
    ]
    assert "Traceback" not in done.stderr and not (tmp_path / "r.parquet").exists()


def test_bad_options_are_one_line_errors(results: Path) -> None:
    code, out = cli("records", "--format", "xml", "--results-dir", str(results))
    assert code == 2 and "--format xml: must be one of csv, jsonl, parquet" in out
    code, out = cli("records", "--format", "parquet", "--results-dir", str(results))
    assert code == 2 and "--out FILE" in out
    code, out = cli("records", "--results-dir", str(results / "nope"))
    assert code == 2 and "no such folder" in out


# --- the records index ---------------------------------------------------------------------


def indexed_names(root: Path) -> set[str]:
    return set(json.loads(index_path(root).read_text())["records"])


def test_a_changed_record_is_read_again_and_a_deleted_one_disappears(results: Path) -> None:
    first = RecordSet.load(results)
    names = {f"{r['key']}.json" for r in first.records}
    assert indexed_names(results) == names
    raw = next(r for r in first.records if r["method"] == "raw")
    raw = {**raw, "metrics": {**raw["metrics"], "action_top1": 0.42}}
    save(results, raw, age_s=30)  # rewritten: a new file of the same name
    down = next(r for r in first.records if r["method"] == "downsample")
    ResultsStore(results).record_path(down["key"]).unlink()
    again = RecordSet.load(results)
    by_method = {r["method"]: r for r in again.records}
    assert set(by_method) == {"penalty", "raw"}
    assert by_method["raw"]["metrics"]["action_top1"] == 0.42
    assert indexed_names(results) == names - {f"{down['key']}.json"}


def test_an_unchanged_record_is_answered_by_the_index(results: Path) -> None:
    """The index is what an unchanged file is not read again for: an entry whose file's
    stat still matches is taken as it is."""
    RecordSet.load(results)
    index = json.loads(index_path(results).read_text())
    entry = next(e for e in index["records"].values() if e["record"]["method"] == "raw")
    entry["record"]["metrics"]["action_top1"] = 0.123  # what the file held when indexed
    index_path(results).write_text(json.dumps(index))
    raw = next(r for r in RecordSet.load(results).records if r["method"] == "raw")
    assert raw["metrics"]["action_top1"] == 0.123


def test_a_recently_written_record_is_read_but_not_indexed(results: Path) -> None:
    fresh = ResultsStore(results).save(make_record("raw", seed=5))  # mtime: now
    loaded = RecordSet.load(results)
    assert 5 in {r["seed"] for r in loaded.records}
    assert fresh.name not in indexed_names(results) and len(indexed_names(results)) == 3


def test_a_corrupt_index_is_rebuilt_with_a_warning(results: Path) -> None:
    code, before = cli("table", "1", "--results-dir", str(results))
    assert code == 0 and index_path(results).is_file()
    index_path(results).write_text('{"format": 1, "records": [')
    code, out = cli("table", "1", "--results-dir", str(results))
    assert code == 0, out
    (warning,) = [line for line in out.splitlines() if "records index" in line]
    assert "is corrupt (not JSON" in warning and "rebuilt from the records" in warning
    assert out.replace(warning + "\n", "") == before
    assert len(indexed_names(results)) == 3  # rebuilt
    code, out = cli("table", "1", "--results-dir", str(results))
    assert out == before  # and read without a word


def test_an_unreadable_record_is_skipped_with_its_warning_every_time(results: Path) -> None:
    bad = results / "records" / "0000000000000000.json"
    bad.write_text("{ not json")
    then = time.time() - 60
    os.utime(bad, (then, then))
    for _ in range(2):  # the second time from the index
        loaded = RecordSet.load(results)
        assert len(loaded.records) == 3
        assert any("0000000000000000.json" in s and "not JSON" in s for s in loaded.skipped)
    assert "0000000000000000.json" in indexed_names(results)


@pytest.mark.parametrize(("number", "cell"), [("1", "80.00 (↓ 10.00)"), ("3", "70.00 (↓ 20.00)")])
def test_tables_are_the_same_with_and_without_the_index(
    results: Path, number: str, cell: str
) -> None:
    save(results, make_record("penalty", {"B": 0.3, "lam": 0.5}, top1=0.7))
    save(results, make_record("spact", top1=0.6, seed=1))
    _, built = cli("table", number, "--results-dir", str(results))  # no index yet: files
    assert index_path(results).is_file()
    _, indexed = cli("table", number, "--results-dir", str(results))
    index_path(results).unlink()
    _, again = cli("table", number, "--results-dir", str(results))
    assert built == indexed == again and cell in built


def test_concurrent_readers_and_a_writer_leave_a_whole_index(results: Path) -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                RecordSet.load(results)
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        try:
            for seed in range(10, 20):
                save(results, make_record("raw", seed=seed), age_s=10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (read, read, write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    loaded = RecordSet.load(results)
    assert len(loaded.records) == 13 and loaded.skipped == []
    assert len(indexed_names(results)) == 13
    leftovers = [p for p in index_path(results).parent.iterdir() if p != index_path(results)]
    assert leftovers == []  # no temp files
