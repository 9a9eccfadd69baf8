"""`bench sweep`: cells of a sweep file, dry runs, shards, and resuming after a kill."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.contract.errors import BenchError
from bench.data import sample_trees as fx
from bench.orchestration.sweep import find_sweep, in_shard, parse_shard, parse_sweep, shipped_sweeps
from tests.test_cli import bench

FAST_SET = """
[set]
identity_epochs = 1
warmup_epochs = 1
anon_epochs = 1
action_epochs = 1
privacy_epochs = 1
"""

FAST_OVERRIDES = {
    "identity_epochs": "1",
    "warmup_epochs": "1",
    "anon_epochs": "1",
    "action_epochs": "1",
    "privacy_epochs": "1",
}

THREE_FIXED = (
    'description = "three fixed methods"\nprotocol = "known"\nseed = 0\n'
    + FAST_SET
    + '\n[[method]]\nname = "raw"\n\n[[method]]\nname = "downsample"\nfactor = [2, 4]\n'
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_cells_are_the_product_of_every_list_per_grid(tmp_path: Path) -> None:
    sweep = parse_sweep(
        write(
            tmp_path / "s.toml",
            'protocol = ["known", "novel"]\nseed = [0, 1]\n'
            '[[method]]\nname = "penalty"\nB = [0.3, 0.5, 0.7]\nlam = 1.0\n'
            '[[method]]\nname = "raw"\n'
            "[[grid]]\n"
            '[[grid]]\nprotocol = "pretrained-attack"\nseed = 0\nfb_arch = "resnet18"\n',
        )
    )
    assert len(sweep.cells) == (3 + 1) * 2 * 2 + (3 + 1)
    extra = [c for c in sweep.cells if c.protocol == "pretrained-attack"]
    assert {c.evaluation["fb_arch"] for c in extra} == {"resnet18"}
    assert {c.params.get("B") for c in sweep.cells} == {0.3, 0.5, 0.7, None}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('protocl = "novel"\n[[method]]\nname = "raw"\n', "unknown key 'protocl'"),
        ('protocol = "novel"\n', "no [[method]]"),
        ("[[method]]\nB = 0.3\n", "needs a name"),
        ("[[method]\n", "not valid TOML"),
        ('[[method]]\nname = "raw"\n[[grid]]\nmethods = 1\n', "[[grid]] key 'methods'"),
    ],
)
def test_malformed_sweep_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BenchError, match=re.escape(message)):
        parse_sweep(write(tmp_path / "bad.toml", text))
    code, out = bench("sweep", str(tmp_path / "bad.toml"), "--dry-run")
    assert code == 2 and message in out and "Traceback" not in out


def test_a_bad_cell_fails_the_whole_sweep_before_anything_runs(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", '[[method]]\nname = "raw"\n[[method]]\nname = "blurr"\n')
    code, out = bench("sweep", str(path), "--results-dir", str(tmp_path / "res"))
    assert code == 2 and "unknown method 'blurr'" in out
    assert not (tmp_path / "res").exists()


def test_shards_partition_the_cells() -> None:
    assert parse_shard(None) == (1, 1) and parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1/0", "x", "1-2"):
        with pytest.raises(BenchError, match="--shard"):
            parse_shard(bad)
    owners = [[i for i in (1, 2, 3) if in_shard(pos, (i, 3))] for pos in range(10)]
    assert all(len(o) == 1 for o in owners)


def test_every_shipped_sweep_parses_and_validates(tmp_path: Path) -> None:
    """Each table and figure has a tiny synthetic file and a paper-scale one."""
    names = set(shipped_sweeps())
    for table in ("table1", "table2", "table3", "figure3", "table5", "table6", "table7", "table8"):
        assert {table, f"{table}-paper"} <= names
    hmdb = fx.make_hmdb51(tmp_path / "hmdb51")  # keys hold the data's identity: real trees
    fx.make_pahmdb(hmdb)
    fx.make_vp_annotations(hmdb, "hmdb51_privacy_attribute_label.pickle")
    trees = {"ucf101": fx.make_ucf101(tmp_path / "ucf101"), "hmdb51": hmdb}
    roots = {**{k: str(v) for k, v in trees.items()}, "vispr": str(fx.make_vispr(tmp_path / "v"))}
    for name in names:
        sweep = parse_sweep(find_sweep(name), roots if name.endswith("-paper") else None)
        keys = {cell.config().key() for cell in sweep.cells}
        assert len(keys) == len(sweep.cells), name
    assert {c.protocol for c in parse_sweep(find_sweep("table6")).cells} == {
        "pretrained-attack", "pretrained-attack-novel"
    }  # fmt: skip


def sweep_process(path: Path, results: Path, cache: Path, *extra: str) -> subprocess.Popen:
    env = os.environ | {"COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "bench.cli", "sweep", str(path), "--results-dir", str(results),
           "--cache-dir", str(cache), *extra]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def finished(results: Path) -> dict[str, tuple[float, bytes]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (results / "records").glob("*.json")
    }


@pytest.mark.slow  # each cell is a `bench run`, whose kill and resume test_faults tests
def test_killed_sweep_resumes_without_losing_or_rerunning_cells(
    tmp_path: Path, cache_dir: Path
) -> None:
    path = write(tmp_path / "s.toml", THREE_FIXED)
    results = tmp_path / "res"
    proc = sweep_process(path, results, cache_dir)
    deadline = time.monotonic() + 240
    while not finished(results) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: no handler runs
    proc.wait()
    before = finished(results)
    assert 1 <= len(before) <= 3

    code, out = bench("sweep", str(path), "--dry-run", "--results-dir", str(results))
    assert code == 0 and f"done {len(before)}; to run {3 - len(before)}" in out

    rerun = sweep_process(path, results, cache_dir)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    assert f"ran {3 - len(before)}, skipped {len(before)} (done), failed 0" in out
    after = finished(results)
    assert len(after) == 3
    assert all(after[name] == before[name] for name in before)  # untouched, not rewritten


@pytest.mark.slow  # two workers on one store: tests/test_faults.py covers it in the default run
def test_shards_run_concurrently_share_a_sweep(tmp_path: Path, cache_dir: Path) -> None:
    path = write(tmp_path / "s.toml", THREE_FIXED)
    results = tmp_path / "res"
    procs = [sweep_process(path, results, cache_dir, "--shard", f"{i}/2") for i in (1, 2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert "ran 2, skipped 0" in outs[0] and "ran 1, skipped 0" in outs[1]
    records = [json.loads(b) for _, b in finished(results).values()]
    assert sorted(r["params"].get("factor", 0) for r in records) == [0, 2, 4]


# --- sweeps as submitit jobs -----------------------------------------------------------------

FAILING = """
from bench.contract.errors import BenchError
from bench.contract.method import METHODS, Method


@METHODS.register("sweep-fails")
class Fails(Method):
    def fit(self, data, ctx):
        print("about to fail in the job")
        raise BenchError("this method always fails")

    def anonymize(self, clips, masks=None):
        return clips
"""


def test_local_launcher_runs_cells_as_jobs_and_status_shows_each(
    tmp_path: Path, cache_dir: Path
) -> None:
    """`--launcher local --workers 2`: each cell without a record becomes a submitit job (a
    process of its own, with the plug-in loaded); `--status` then shows done, failed with
    the error and the job log's last lines, running for a held cell, and to run."""
    from bench.orchestration.cell import Cell
    from bench.store.results import ResultsStore

    plugin = write(tmp_path / "failing.py", FAILING)
    sweep = write(tmp_path / "jobs.toml", 'description = "jobs"\nseed = [0]\n'
                  + FAST_SET.replace("[set]", "[set]\nframe_size = 16")
                  + '\n[launcher]\nworkers = 2\n'
                  + '\n[[method]]\nname = "raw"\n\n[[method]]\nname = "sweep-fails"\n')  # fmt: skip
    results = tmp_path / "r"
    common = ["--results-dir", str(results), "--cache-dir", str(cache_dir), "--plugin", str(plugin)]
    code, out = bench("sweep", str(sweep), "--launcher", "local", *common)
    assert code == 1, out  # a cell failed
    assert "2 to run as local jobs" in out and "ran 1, failed 1" in out, out
    assert len(list((results / "records").glob("*.json"))) == 1
    code, out = bench("sweep", str(sweep), "--status", *common)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "done 1" in flat and "failed 1" in flat and "to run 0" in flat, out
    assert "this method always fails" in flat and "about to fail in the job" in flat, out
    # a cell someone is computing (its lock held) is running, and says who
    key = (
        Cell(method="sweep-fails", overrides={"frame_size": "16", **FAST_OVERRIDES}).config().key()
    )
    with ResultsStore(results).cell_lock(key):
        code, out = bench("sweep", str(sweep), "--status", *common)
    flat = " ".join(out.split())
    assert "running 1" in flat and f"pid {os.getpid()}" in flat and "failed 0" in flat, out
    code, out = bench("sweep", str(sweep), "--launcher", "slurm", "--time", "0", *common)
    assert code == 2 and "launcher time=0: must be an integer >= 1" in out, out
