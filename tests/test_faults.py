"""The fault suite: hostile input, diverged training, corrupt files, kill -9, concurrent
workers and failing writes. Every test asserts the outcome (a one-line error or an automatic
recovery), the exit code, that nothing finished is lost and that nothing wrong is stored.

Kills, concurrency and full disks use real subprocesses of `python -m bench.cli`; the store,
the caches and the models are the real ones at tiny sizes.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from bench.cli import app
from bench.contract.atomic import HOST, atomic_write_text, clean_stale_temps, temp_path
from bench.contract.config import PRESET_KEYS, PRESET_RANGES, PRESETS, resolve_preset
from bench.contract.context import RunContext, make_progress
from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.contract.locks import exclusive, lock_path
from bench.data import sample_trees as fx
from bench.data.catalog import LAYOUTS, ScanOptions
from bench.data.prepare import pack_path
from bench.store.results import ResultsStore
from bench.training.fits import CHECKPOINT, FIT_LOG, fit_or_reuse
from tests.conftest import FAST, PENALTY_RUN, make_record, one_torch_thread

runner = CliRunner()


PLUGIN = '''
import sys

import torch

from bench.contract.method import METHODS, Method, Param
from bench.methods.penalty import Penalty


class _Broken(Method):
    def anonymize(self, clips, masks=None):
        return self.broken(clips)


@METHODS.register("fault-nan")
class NanOut(_Broken):
    def broken(self, clips):
        return clips * float("nan")


@METHODS.register("fault-bright")
class BrightOut(_Broken):
    def broken(self, clips):
        return clips + 0.5


@METHODS.register("fault-shape")
class ShapeOut(_Broken):
    def broken(self, clips):
        return clips[:, :, :1]


@METHODS.register("fault-exit")
class ExitOut(_Broken):
    def broken(self, clips):
        sys.exit(3)


@METHODS.register("fault-diverge")
class Diverging(Penalty):
    """The penalty method with a loss that becomes NaN in the minimax game."""

    def extra_loss(self):
        return lambda clips, anon: (anon.mean() * float("nan"), {})


@METHODS.register("fault-toy")
class Toy(Method):
    """A trainable method that learns one number in no time: fits are cheap to corrupt."""

    trainable = True
    params = {"level": Param(0.5, "grey level", minimum=0.0, maximum=1.0)}

    def fit(self, data, ctx):
        self.level = torch.tensor(self.values["level"])
        ctx.log("toy", epoch=0, loss=0.0)

    def state_dict(self):
        return {"level": self.level}

    def load_state_dict(self, state, ctx):
        self.level = state["level"] * 1.0

    def anonymize(self, clips, masks=None):
        return torch.full_like(clips, float(self.level))
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plugin") / "faults.py"
    path.write_text(PLUGIN)
    return path


@pytest.fixture(scope="module")
def known_cache(cache_dir: Path) -> Path:
    """The session cache with the known synthetic set rendered."""
    DATASETS.get("synthetic")().load_cached("known", cache_dir)  # type: ignore[attr-defined]
    return cache_dir


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "records").glob("*.json"))]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def start(args: list[str], limit_bytes: int | None = None) -> subprocess.Popen[str]:
    """A `bench` subprocess on one thread, in its own process group (for kill -9)."""

    def limit() -> None:  # a full disk: writes past `limit_bytes` fail with EFBIG
        # Ctrl-C as in a terminal (a pytest-xdist worker ignores SIGINT, which children inherit)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = os.environ | {"COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, preexec_fn=limit,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str], timeout: float = 400) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


class Output:
    """A subprocess's output, read as it comes (so a test can wait for a line)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.text = proc, ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.text += line

    def finish(self, timeout: float = 400) -> tuple[int, str]:
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return self.proc.returncode, self.text


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 300) -> None:
    """kill -9 the process group once `ready()` holds (a crash: no handler runs)."""
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the process ended before the stage to kill it at"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def logged(results: Path, stage: str) -> bool:
    """Whether some run under `results` logged a row of `stage`."""
    return any(f'"stage": "{stage}' in p.read_text() for p in results.glob("runs/*/log.jsonl"))


def temps_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part"))]


# --- bad input: one line, exit 2, nothing created ------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "temperature=nan"], "temperature=nan: must be a finite number"),
        (["--set", "weight_decay=nan"], "weight_decay=nan: must be a finite number"),
        (["--set", "lr_budget=inf"], "lr_budget=inf: must be a finite number"),
        (["--set", "lr_privacy=-inf"], "lr_privacy=-inf: must be a finite number"),
        (["--set", "lr_action=nan"], "lr_action=nan: must be a finite number"),
        (["--set", "temperature=0"], "temperature=0.0: must be > 0"),
        (["--set", "lr_anon=1e30"], "lr_anon=1e+30: must be between 0 and 10"),
        (["--set", "anon_augment=on"], "anon_augment=on: expected true / false, 1 / 0 or yes"),
        (["--set", "anon_augment=maybe"], "expected true / false"),
        (["--set", "frames=17"], "a clip spans 17 frames but the synthetic videos have 16"),
        (["--set", "skip=5"], "a clip spans 36 frames"),
        (["--seed", "99999999999999999999"], "must be between 0 and 4294967295"),
        (["--seed", "-1"], "must be between 0 and"),
        (["--set", "anon_encoder=nope"], "anon_encoder=nope: unknown encoder"),
        (["--set", "anon_encoder=tu-nope"], "timm has no model 'nope'"),
        (["--B", "nan"], "--B=nan: must be a finite number"),
        (["--B", "inf"], "--B=inf: must be a finite number"),
        (["--device", "nope"], "unknown device 'nope'"),
        (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "cuda:99"],
         "device 'cuda"),
        (["--set", "anon_decoder=32,0,8"], "every width must be >= 1"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = bench("run", "--method", "penalty", "--no-reference", *args,
                      "--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    assert code == 2, out
    assert message in out and "Traceback" not in out
    assert out.count("\n") <= 3
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_every_numeric_setting_has_a_range() -> None:
    preset = PRESETS["tiny"]
    numeric = {
        k for k in PRESET_KEYS
        if isinstance(getattr(preset, k), int | float) and not isinstance(getattr(preset, k), bool)
    }  # fmt: skip
    assert numeric == set(PRESET_RANGES)


@pytest.mark.parametrize(("word", "value"), [("yes", True), ("On", None), ("0", False)])
def test_booleans_take_only_true_false_words(word: str, value: bool | None) -> None:
    if value is None:
        with pytest.raises(BenchError, match="expected true / false"):
            resolve_preset("tiny", {"anon_augment": word})
    else:
        assert resolve_preset("tiny", {"anon_augment": word}).anon_augment is value


def test_unwritable_runs_folder_is_one_line(tmp_path: Path, known_cache: Path) -> None:
    results = tmp_path / "r"
    (results / "records").mkdir(parents=True)
    (results / "runs").write_text("a file where the runs folder should be")
    code, out = bench("run", "--method", "raw", *FAST, "--results-dir", str(results),
                      "--cache-dir", str(known_cache))  # fmt: skip
    assert code == 2 and "not writable" in out and "runs" in out and "Traceback" not in out


def test_a_million_cell_sweep_asks_for_yes(tmp_path: Path) -> None:
    sweep = tmp_path / "huge.toml"
    sweep.write_text(
        "seed = " + str(list(range(1000))) + '\n[[method]]\nname = "penalty"\n'
        "B = " + str([i / 1000 for i in range(1000)]) + "\n"
    )
    code, out = bench("sweep", str(sweep), "--dry-run", "--results-dir", str(tmp_path / "r"))
    assert code == 2 and "has 1,000,000 cells" in out and "--yes" in out


# --- plug-in output and diverged training: an error naming the method, nothing stored -----


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("fault-nan", "method 'fault-nan': anonymize() returned NaN or infinite values"),
        ("fault-bright", "method 'fault-bright': anonymize() returned values in [0.5"),
        ("fault-shape", "method 'fault-shape': anonymize() returned shape (16, 3, 1, 16, 16)"),
        ("fault-exit", "plug-in code called sys.exit(3) during the run of method 'fault-exit'"),
    ],
)
def test_bad_plugin_output_is_an_error_naming_the_method(
    tmp_path: Path, known_cache: Path, plugin: Path, method: str, message: str
) -> None:
    results = tmp_path / "r"
    code, out = bench("run", "--method", method, "--plugin", str(plugin), "--no-reference",
                      *FAST, "--results-dir", str(results), "--cache-dir", str(known_cache))  # fmt: skip
    assert code == 2, out
    assert message in " ".join(out.split()) and "Traceback" not in out
    assert records(results) == [] and not list((results / "runs").iterdir())


def test_diverged_training_stops_and_stores_no_fit_and_no_record(
    tmp_path: Path, known_cache: Path, plugin: Path
) -> None:
    results = tmp_path / "r"
    code, out = bench("run", "--method", "fault-diverge", "--plugin", str(plugin),
                      "--no-reference", *FAST, "--results-dir", str(results),
                      "--cache-dir", str(known_cache))  # fmt: skip
    flat = " ".join(out.split())
    assert code == 2, out
    assert "training diverged in stage 'minimax' at epoch 0" in flat and "Traceback" not in out
    assert "lr_anon=0.003" in flat and "No fit and no record were stored" in flat
    assert records(results) == []
    assert not list((results / "fits").rglob(CHECKPOINT))


# --- corrupt files: skipped or regenerated with one warning each ---------------------------


CORRUPT_RECORDS: dict[str, Callable[[Path], None]] = {
    "bytes.json": lambda p: p.write_bytes(os.urandom(200)),
    "folder.json": lambda p: p.mkdir(),
    "empty.json": lambda p: p.write_text("{}"),
    "list.json": lambda p: p.write_text("[1, 2]"),
    "truncated.json": lambda p: p.write_text('{"key": "abc", "metr'),
}


def test_readers_skip_each_corrupt_record_with_one_warning(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save(make_record("raw", top1=0.9, cmap=0.8))
    store.save(make_record("penalty", {"B": 0.3}, top1=0.8, cmap=0.5))
    string_metric = make_record("blackening")
    string_metric["metrics"]["action_top1"] = "high"  # written by hand: save() refuses it
    store.record_path(string_metric["key"]).write_text(json.dumps(string_metric))
    nan_metric = make_record("blur")
    nan_metric["metrics"]["privacy_cmap"] = float("nan")
    store.record_path(nan_metric["key"]).write_text(json.dumps(nan_metric))
    for name, corrupt in CORRUPT_RECORDS.items():
        corrupt(store.records_dir / name)
    for command in (["table", "1"], ["report", "--out", str(tmp_path / "rep")],
                    ["figure", "pareto", "--out", str(tmp_path / "f.png")]):  # fmt: skip
        code, out = bench(*command, "--results-dir", str(tmp_path))
        assert code == 0, (command, out)
        assert "Traceback" not in out
        for name in [*CORRUPT_RECORDS, string_metric["key"], nan_metric["key"]]:
            assert out.count(name) == 1, (command, name, out)


def test_run_recomputes_its_own_corrupt_record(tmp_path: Path, known_cache: Path) -> None:
    results = tmp_path / "r"
    args = ["run", "--method", "raw", *FAST, "--results-dir", str(results), "--cache-dir", str(known_cache)]  # fmt: skip
    assert bench(*args)[0] == 0
    (path,) = (results / "records").glob("*.json")
    good = json.loads(path.read_text())
    path.write_bytes(os.urandom(100))
    code, out = bench(*args)
    assert code == 0 and "is unreadable (not text); computing it again" in " ".join(out.split())
    again = json.loads(path.read_text())
    assert again["metrics"] == good["metrics"]  # the same seed gives the same record


def _toy_context(tmp_path: Path, fit_dir: Path, console: Console) -> RunContext:
    return RunContext(PRESETS["tiny"], torch.device("cpu"), 0, tmp_path, tmp_path / "run",
                      console, make_progress(console), fit_dir=fit_dir)  # fmt: skip


FIT_CORRUPTIONS: dict[str, tuple[str, bytes]] = {
    "random checkpoint": (CHECKPOINT, os.urandom(300)),
    "empty checkpoint": (CHECKPOINT, b""),
    "{} log": (FIT_LOG, b"{}"),
    "binary log": (FIT_LOG, os.urandom(64)),
    "log of a list": (FIT_LOG, b"[]"),
}


@pytest.mark.parametrize("kind", FIT_CORRUPTIONS)
def test_a_corrupt_fit_is_retrained_with_a_warning(
    tmp_path: Path, plugin: Path, known_cache: Path, kind: str
) -> None:
    from bench.contract.method import METHODS
    from bench.contract.plugins import load_plugin

    load_plugin(plugin)
    data = DATASETS.get("synthetic")().load_cached("known", known_cache)  # type: ignore[attr-defined]
    fit_dir = tmp_path / "fits" / "abc"
    (tmp_path / "run").mkdir()
    console = Console(record=True, width=200)
    first = METHODS.get("fault-toy")(level=0.25)
    fit_or_reuse(first, _toy_context(tmp_path, fit_dir, console), lambda: data, data)
    assert (fit_dir / CHECKPOINT).is_file() and (fit_dir / FIT_LOG).is_file()
    name, content = FIT_CORRUPTIONS[kind]
    (fit_dir / name).write_bytes(content)
    second = METHODS.get("fault-toy")(level=0.25)
    ctx = _toy_context(tmp_path, fit_dir, console)
    fit_or_reuse(second, ctx, lambda: data, data)
    text = " ".join(console.export_text().split())
    assert "is unreadable" in text and "retraining it" in text
    assert "anonymizer" not in ctx.notes  # trained now, not reused
    assert float(second.level) == 0.25  # type: ignore[attr-defined]
    third = METHODS.get("fault-toy")(level=0.25)
    ctx = _toy_context(tmp_path, fit_dir, console)
    fit_or_reuse(third, ctx, lambda: data, data)
    assert "reused" in ctx.notes["anonymizer"]  # the retrained fit was stored again


def test_a_corrupt_synthetic_cache_regenerates_itself(tmp_path: Path, known_cache: Path) -> None:
    family = DATASETS.get("synthetic")()
    path = family.cache_path("known", tmp_path)  # type: ignore[attr-defined]
    path.write_bytes(b"not a zip file")
    warnings: list[str] = []
    data = family.load_cached("known", tmp_path, warnings.append)  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "is corrupt" in warnings[0] and "regenerating" in warnings[0]
    reference = family.load_cached("known", known_cache)  # type: ignore[attr-defined]
    assert torch.equal(data.action.splits.test.videos.read(0),
                       reference.action.splits.test.videos.read(0))  # fmt: skip
    assert family.load_cached("known", tmp_path, warnings.append) and len(warnings) == 1


def test_a_corrupt_prepared_pack_is_prepared_again(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1, frames=12)
    cache = tmp_path / "cache"
    args = ["data", "prepare", "ucf101", "--root", str(root), "--cache-dir", str(cache),
            "--size", "16", "--workers", "0"]  # fmt: skip
    assert bench(*args)[0] == 0
    (index,) = [p for p in cache.rglob("test-*.json")]
    index.write_text("{}")
    code, out = bench(*args)
    assert code == 0 and "preparing it again" in out and "Traceback" not in out
    assert json.loads(index.read_text())["kept"]


# --- atomic writes, stale temps and locks ---------------------------------------------------


def test_concurrent_atomic_writers_never_collide(tmp_path: Path) -> None:
    path = tmp_path / "fit.json"
    errors: list[BaseException] = []

    def writer(text: str) -> None:
        try:
            for _ in range(60):
                atomic_write_text(path, text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t * 5000,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and path.read_text() in {"a" * 5000, "b" * 5000}
    assert list(tmp_path.iterdir()) == [path]


def test_stale_temps_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".rec.json.{HOST}.{int(dead.stdout)}.0123abcd.tmp"
    live = temp_path(tmp_path / "rec.json")
    other = tmp_path / ".rec.json.elsewhere.1.0123abcd.tmp"  # another host: kept for a day
    for p in (stale, live, other):
        p.write_text("partial")
    assert clean_stale_temps(tmp_path) == [stale]
    assert live.exists() and other.exists()


def test_a_lock_of_a_killed_owner_is_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "fit"
    holder = start([sys.executable, "-c", (
        "import time, pathlib; from bench.contract.locks import exclusive\n"
        f"with exclusive(pathlib.Path({str(target)!r}), 'fit'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )])  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    messages: list[str] = []
    lock = exclusive(target, "fit", messages.append)
    waiter = threading.Thread(target=lock.__enter__)
    waiter.start()
    time.sleep(0.5)
    assert len(messages) == 1 and f"waiting for fit: pid {holder.pid}" in messages[0]
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate()
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert f"taking over the lock of pid {holder.pid}" in messages[1]
    assert json.loads(lock_path(target).read_text())["pid"] == os.getpid()
    lock.__exit__(None, None, None)
    assert lock_path(target).read_text() == ""  # released cleanly: nothing to take over


# --- kill -9 at each stage, then a rerun that recovers --------------------------------------


@pytest.mark.slow
def test_kill_at_each_stage_loses_nothing_and_the_rerun_recovers(tmp_path: Path) -> None:
    results, cache = tmp_path / "r", tmp_path / "c"
    args = cli("run", "--method", "penalty", "--no-reference", *FAST,
               "--results-dir", str(results), "--cache-dir", str(cache))  # fmt: skip
    # 1. while the synthetic data renders (its lock is held)
    proc = start(args)
    kill_when(proc, lambda: any(cache.glob("synthetic-*.npz.lock")))
    # 2. in the middle of training fA* (the fit's lock is held)
    proc = start(args)
    kill_when(proc, lambda: logged(results, "budget_pretraining"))
    assert not list((results / "fits").rglob(FIT_LOG))  # no half fit
    # 3. while fT' is trained on the anonymized data (the fit is stored)
    proc = start(args)
    kill_when(proc, lambda: logged(results, "fT"))
    (fit_log,) = (results / "fits").rglob(FIT_LOG)
    assert (fit_log.parent / CHECKPOINT).is_file()
    assert records(results) == []
    # a write killed half-way leaves a temp file named after its dead writer
    for folder in (results / "records", fit_log.parent, cache):
        (folder / f".x.json.{HOST}.{proc.pid}.0123abcd.tmp").write_text("half")
    code, out = finish(start(args))
    assert code == 0, out
    assert "taking over the lock of pid" in " ".join(out.split()), out
    (record,) = records(results)
    assert "fA* reused" in record["notes"]["anonymizer"]
    assert temps_under(tmp_path) == []


# --- concurrent workers: the second waits and reuses ----------------------------------------


def test_two_workers_on_one_fit_train_it_once(tmp_path: Path, known_cache: Path) -> None:
    results = tmp_path / "r"
    common = ["--method", "penalty", "--no-reference", *FAST, "--results-dir", str(results),
              "--cache-dir", str(known_cache)]  # fmt: skip
    first = start(cli("run", "--protocol", "known", *common))
    second = start(cli("run", "--protocol", "pretrained-attack", *common))
    outs = [finish(first), finish(second)]
    assert all(code == 0 for code, _ in outs), outs
    notes = [r["notes"].get("anonymizer", "") for r in records(results)]
    assert len(notes) == 2 and sum("reused" in n for n in notes) == 1, notes
    assert sum("waiting for the fA*" in " ".join(out.split()) for _, out in outs) == 1
    (fit_dir,) = [p for p in (results / "fits").iterdir() if p.is_dir()]
    log = json.loads((fit_dir / FIT_LOG).read_text())
    trainer = [r for r in records(results) if "anonymizer" not in r["notes"]][0]
    assert log["run"] == trainer["key"]  # the log and the checkpoint are of one run


def test_two_identical_runs_compute_once(tmp_path: Path, known_cache: Path) -> None:
    results = tmp_path / "r"
    args = cli("run", "--method", "blackening", "--no-reference", *FAST,
               "--results-dir", str(results), "--cache-dir", str(known_cache))  # fmt: skip
    procs = [start(args), start(args)]
    outs = [finish(p) for p in procs]
    assert all(code == 0 for code, _ in outs), outs
    assert len(records(results)) == 1
    waited = [out for _, out in outs if "waiting for cell" in out]
    assert len(waited) == 1 and "record exists" in waited[0]
    assert "fT'" not in waited[0]  # the waiting worker trained nothing


def test_two_prepares_of_one_cache_decode_once(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1, frames=12)
    cache = tmp_path / "cache"
    args = cli("data", "prepare", "ucf101", "--root", str(root), "--cache-dir", str(cache),
               "--size", "16", "--workers", "0")  # fmt: skip
    catalog = LAYOUTS.get("ucf101")().scan(root, ScanOptions())
    first_pack = pack_path(catalog, next(iter(catalog.splits)), 16, 4, cache)
    with exclusive(first_pack, "the test"):  # both start while a third worker holds it
        procs = [start(args), start(args)]
        outs = [Output(p) for p in procs]
        deadline = time.monotonic() + 120
        while not all("waiting for" in o.text for o in outs) and time.monotonic() < deadline:
            time.sleep(0.1)
    outs = [o.finish() for o in outs]
    assert all(code == 0 for code, _ in outs), outs
    assert all("waiting for the prepared ucf101" in out for _, out in outs), outs
    for split in [s for s, items in catalog.splits.items() if items]:  # decoded by one only
        assert sum(f"ucf101 {split}: decode" in out for _, out in outs) == 1, (split, outs)
    assert temps_under(cache) == []


# --- a write failing mid-way (full disk) -----------------------------------------------------


@pytest.mark.slow  # 46 s; a full disk at the record write stays in the default suite
def test_a_full_disk_at_the_end_of_a_fit_keeps_the_run(tmp_path: Path, known_cache: Path) -> None:
    results = tmp_path / "r"
    args = cli("run", "--method", "penalty", "--no-reference", *FAST,
               "--results-dir", str(results), "--cache-dir", str(known_cache))  # fmt: skip
    code, out = finish(start(args, limit_bytes=200_000))  # the fA* checkpoint is 400 kB
    flat = " ".join(out.split())
    assert code == 0, out
    assert "fA* not stored" in flat and "File too large" in flat and "Traceback" not in out
    (record,) = records(results)
    assert "fit_not_stored" in record["notes"]
    assert "checkpoint_not_stored" in record["notes"]  # fT' could not checkpoint: it went on
    assert not list((results / "fits").rglob(CHECKPOINT)) and temps_under(tmp_path) == []


def test_a_full_disk_at_the_record_is_one_line_and_stores_nothing(
    tmp_path: Path, known_cache: Path
) -> None:
    results = tmp_path / "r"
    args = cli("run", "--method", "raw", *FAST, "--results-dir", str(results), "--cache-dir", str(known_cache))  # fmt: skip
    code, out = finish(start(args, limit_bytes=2000))  # smaller than a record
    assert code == 2, out
    assert "could not write" in out and "free some space" in out and "Traceback" not in out
    assert records(results) == [] and temps_under(tmp_path) == []


def test_where_no_lock_can_be_made_the_block_runs_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "shared"
    blocker.write_text("a file where the lock's folder should be (as unwritable as it gets)")
    messages: list[str] = []
    ran = False
    with exclusive(blocker / "data.npz", "the shared data", messages.append):
        ran = True
    assert ran and len(messages) == 1 and "cannot create the lock" in messages[0]
    assert "running without one" in messages[0]


def test_a_record_with_a_nan_metric_is_never_stored(tmp_path: Path) -> None:
    record = make_record("raw")
    record["metrics"]["privacy_cmap"] = float("nan")  # e.g. no positive attribute in test
    with pytest.raises(BenchError, match="produced no valid result: metric 'privacy_cmap'"):
        ResultsStore(tmp_path).save(record)
    assert not list(tmp_path.rglob("*.json")) and temps_under(tmp_path) == []


def test_a_pack_that_is_not_finished_leaves_no_temp(tmp_path: Path) -> None:
    from bench.data.frame_store import PackedFrames

    pack = PackedFrames.allocate([3, 2], (4, 4, 3), path=tmp_path / "p")
    assert len(temps_under(tmp_path)) == 1
    pack.discard()
    assert temps_under(tmp_path) == []


# --- resuming training: per-epoch checkpoints, SIGTERM -------------------------------------

RESUMABLE = ("--set", "action_epochs=3", "--set", "privacy_epochs=3")


def logged_epoch(results: Path, stage: str, epoch: int) -> bool:
    """Whether a run under `results` logged epoch `epoch` of a stage starting with `stage`."""
    return any(
        line.startswith(f'{{"stage": "{stage}') and f'"epoch": {float(epoch)}' in line
        for p in results.glob("runs/*/log.jsonl")
        for line in p.read_text().splitlines()
    )


def run_args(results: Path, cache: Path) -> list[str]:
    return ["run", "--method", "raw", *FAST, *RESUMABLE,
            "--results-dir", str(results), "--cache-dir", str(cache)]  # fmt: skip


def bench_one_thread(*args: str) -> tuple[int, str]:
    """`bench` in this process on one thread, as the subprocesses compute (same sums)."""
    with one_torch_thread():
        return bench(*args)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, known_cache: Path) -> dict:
    """The record of a raw run of 3 + 3 epochs that nothing stopped, on one thread as the
    subprocesses compute."""
    results = tmp_path_factory.mktemp("whole")
    code, out = bench_one_thread(*run_args(results, known_cache))
    assert code == 0, out
    (record,) = records(results)
    return record


@pytest.mark.slow  # the penalty test below kills and stops in every stage, fB' included
def test_stopped_and_killed_training_resumes_to_the_same_record(
    tmp_path: Path, known_cache: Path, uninterrupted: dict
) -> None:
    """SIGTERM during fT' (checkpoint, exit 75), then kill -9 half way through fB', then a
    rerun: it takes over the lock, resumes, and stores the uninterrupted run's record."""
    results = tmp_path / "r"
    args = cli(*run_args(results, known_cache))
    proc = start(args)
    deadline = time.monotonic() + 300
    while not logged_epoch(results, "fT", 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    code, out = finish(proc)
    assert code == 75, out
    assert "stopped by SIGTERM after epoch" in " ".join(out.split()) and "Traceback" not in out
    assert records(results) == [] and list(results.glob("runs/*/checkpoints/*.pt"))
    proc = start(args)
    kill_when(proc, lambda: logged_epoch(results, "fB", 1))  # fT' done, fB' half way
    saved = sorted(p.name for p in results.glob("runs/*/checkpoints/*.pt"))
    assert len(saved) == 2 and "fT" in saved[0] and "fB" in saved[1], saved
    (results / "records" / f".x.json.{HOST}.{proc.pid}.0123abcd.tmp").write_text("half")
    code, out = finish(start(args))
    assert code == 0, out
    flat = " ".join(out.split())
    assert "resuming after fB' (privacy eval) epoch" in flat
    assert "taking over the lock of pid" in flat
    (record,) = records(results)
    assert record["metrics"] == uninterrupted["metrics"]
    assert record["history"] == uninterrupted["history"]
    assert not list(results.glob("runs/*/checkpoints"))  # removed once the record is stored
    assert temps_under(tmp_path) == []


# 2 epochs of every training stage (FAST's settings otherwise)
STAGES = ("--set", "identity_epochs=2", "--set", "budget_pretrain_epochs=2",
          "--set", "warmup_epochs=2", "--set", "anon_epochs=2", "--set", "privacy_epochs=2")  # fmt: skip


@pytest.mark.parametrize(
    "stages",
    [
        pytest.param(("minimax",), id="minimax"),
        # every stage: 6 process starts, 200 s on 2 cores
        pytest.param(("identity", "budget_pretraining", "warmup", "minimax", "fB"),
                     id="every-stage", marks=pytest.mark.slow),
    ],
)  # fmt: skip
@pytest.mark.xdist_group("penalty_run")  # [minimax] compares with the shared penalty run
def test_killed_in_every_anonymizer_stage_resumes_to_the_same_record(
    tmp_path: Path, known_cache: Path, stages: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    """The penalty method killed (-9) in the identity pretraining, the budget pretraining,
    the minimax game and fB', and stopped (SIGTERM) in the warm-up: the rerun takes over
    the dead run's lock and stores exactly the record of a run that nothing stopped. The
    default suite kills it in the minimax game only."""
    import shutil

    every = len(stages) > 1
    settings = [*FAST, *STAGES] if every else PENALTY_RUN  # [minimax]: the shared run's

    def args(results: Path, cache: Path) -> list[str]:
        return ["run", "--method", "penalty", "--no-reference", *settings,
                "--results-dir", str(results), "--cache-dir", str(cache)]  # fmt: skip

    whole_cache, cache = tmp_path / "c1", tmp_path / "c2"  # each trains its own fA0
    for copy in (whole_cache, cache):
        shutil.copytree(known_cache, copy)
    if every:
        code, out = bench_one_thread(*args(tmp_path / "whole", whole_cache))
        assert code == 0, out
        (whole,) = records(tmp_path / "whole")
    else:  # the same cell, run in-process on one thread by the shared fixture
        shared, _ = request.getfixturevalue("penalty_run")
        (whole,) = [r for r in records(shared) if r["method"] == "penalty"]

    results = tmp_path / "r"
    picks = dict.fromkeys(("identity", "budget_pretraining", "warmup", "minimax", "fB"), 0)
    for stage in [s for s in ("identity", "budget_pretraining", "minimax", "fB") if s in stages]:
        if "warmup" in stages and stage == "minimax":  # a clean, resumable stop first
            proc = start(cli(*args(results, cache)))
            while not logged_epoch(results, "warmup", picks["warmup"]) and proc.poll() is None:
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGTERM)
            code, out = finish(proc)
            assert code == 75 and "stopped by SIGTERM after epoch" in " ".join(out.split()), out
        proc = start(cli(*args(results, cache)))
        kill_when(proc, lambda stage=stage: logged_epoch(results, stage, picks[stage]))
    assert list(cache.glob("anonymizer-identity-*.pt")) and records(results) == []
    code, out = finish(start(cli(*args(results, cache))))
    assert code == 0, (picks, out)
    flat = " ".join(out.split())
    assert "taking over the lock of pid" in flat and "Traceback" not in out, out
    (record,) = records(results)
    assert record["metrics"] == whole["metrics"], picks
    assert record["history"] == whole["history"], picks
    assert not list(cache.glob("*.partial.pt")) and not list(results.glob("runs/*/checkpoints"))


def test_ctrl_c_says_where_the_same_command_resumes(
    tmp_path: Path, known_cache: Path, uninterrupted: dict
) -> None:
    """Ctrl-C after fT' saved an epoch: exit 130 and the epoch to resume from, counted as the
    progress bar counts; the same command then resumes to the uninterrupted record."""
    results = tmp_path / "r"
    args = cli(*run_args(results, known_cache))
    proc = start(args)
    deadline = time.monotonic() + 300
    while not list(results.glob("runs/*/checkpoints/*fT*.pt")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until fT' has checkpointed an epoch
    os.killpg(proc.pid, signal.SIGINT)
    code, out = finish(proc)
    flat = " ".join(out.split())
    assert code == 130, out
    assert "training was checkpointed after fT' (action eval) epoch" in flat, out
    assert "run the same command again to resume from there" in flat
    assert "Traceback" not in out
    code, out = finish(start(args))
    assert code == 0, out
    assert "resuming after fT' (action eval) epoch" in " ".join(out.split())
    (record,) = records(results)
    assert record["metrics"] == uninterrupted["metrics"]


def test_a_damaged_checkpoint_restarts_its_stage_with_a_warning(
    tmp_path: Path, known_cache: Path, uninterrupted: dict
) -> None:
    from bench.orchestration.cell import Cell
    from bench.training.checkpointing import checkpoint_name

    results = tmp_path / "r"
    settings = dict(a.split("=", 1) for a in (*FAST, *RESUMABLE)[1::2])
    key = Cell(method="raw", overrides=settings).config().key()
    damaged = (
        ResultsStore(results).run_dir(key) / "checkpoints" / checkpoint_name(0, "fT' (action eval)")
    )
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\x80\x02 not a checkpoint")
    code, out = bench_one_thread(*run_args(results, known_cache))
    assert code == 0, out
    assert "is unreadable" in out and "starting the stage over" in out
    (record,) = records(results)
    assert record["metrics"] == uninterrupted["metrics"]
