"""End-to-end through the `bench` CLI with real data, models and store (short schedules)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.progress import Progress
from typer.testing import CliRunner

from bench import __version__ as bench_version
from bench.cli import app
from bench.contract.context import EpochEta
from tests.conftest import FAST

runner = CliRunner()


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "records").glob("*.json"))]


def test_run_help_documents_options() -> None:
    code, out = bench("run", "--help")
    assert code == 0
    for option in ("--method", "--protocol", "--B", "--lam", "--set", "--results-dir", "--force"):
        assert option in out


def test_help_imports_neither_torch_nor_the_models() -> None:
    """`bench --help` lists every command from the sources, importing no command module."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bench.cli import app\n"
        "out = CliRunner().invoke(app, ['--help']).output\n"
        "assert all(name in out for name in ('run', 'table', 'anonymize', 'data')), out\n"
        "heavy = ('torch', 'torchvision', 'segmentation_models_pytorch', 'matplotlib', 'sklearn')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    code, out = bench("--version")
    assert code == 0 and out.strip() == f"privbench {bench_version}"


def test_help_texts_show_extras_and_every_logger() -> None:
    code, out = bench("run", "--help")
    flat = " ".join(out.replace("│", " ").split())
    assert code == 0 and "privbench[logs]" in flat and "wandb" in flat
    code, out = bench("methods")
    assert code == 0 and "lr=derived" in out


def test_epoch_eta_comes_from_the_finished_epochs() -> None:
    """Slow epochs get an estimate after the first one (rich's own column shows -:--:--)."""
    clock = [0.0]
    progress = Progress(get_time=lambda: clock[0])
    bar = progress.add_task("fT'", total=4)
    assert EpochEta().render(progress.tasks[0]).plain == "eta ?"
    clock[0] = 100.0  # one epoch of 100 s
    progress.update(bar, advance=1)
    assert EpochEta().render(progress.tasks[0]).plain == "eta 0:05:00"
    progress.update(bar, advance=3)
    assert EpochEta().render(progress.tasks[0]).plain == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nope"], "unknown method 'nope'; known methods:"),
        (["--method", "blurr"], "unknown method 'blurr' (did you mean 'blur'?)"),
        (["--set", "anon_epoch=2"], "unknown setting (did you mean 'anon_epochs'?)"),
        (["--method", "blur", "--strenght", "weak"], "(did you mean 'strength'?)"),
        (["--method", "blur", "--strength", "wek"], "(did you mean 'weak'?)"),
        (["--protocol", "nope"], "unknown protocol 'nope'; known protocols:"),
        (["--dataset", "nope"], "unknown dataset 'nope'; known datasets:"),
        (["--B", "-0.1"], "--B=-0.1: must be >= 0"),
        (["--lam", "-1"], "--lam=-1: must be >= 0"),
        (["--set", "frames=x"], "expected int"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = bench("run", *args, "--results-dir", str(tmp_path / "r"))
    assert code == 2
    assert message in out
    assert "Traceback" not in out
    assert not (tmp_path / "r").exists()


def test_unwritable_results_dir(tmp_path: Path, cache_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out = bench("run", "--method", "raw", "--results-dir", str(blocker / "r"),
                      "--cache-dir", str(cache_dir))  # fmt: skip
    assert code == 2 and "not writable" in out


def test_raw_run_writes_record_then_reuses_it(tmp_path: Path, cache_dir: Path) -> None:
    results = tmp_path / "results"
    args = [
        "run",
        "--method",
        "raw",
        "--results-dir",
        str(results),
        "--cache-dir",
        str(cache_dir),
        *FAST,
    ]
    code, out = bench(*args)
    assert code == 0, out
    [rec] = records(results)
    assert rec["method"] == "raw" and rec["protocol"] == "known" and rec["params"] == {}
    for metric in ("action_top1", "privacy_cmap", "privacy_f1"):
        assert 0.0 <= rec["metrics"][metric] <= 1.0
    assert rec["provenance"]["packages"]["torch"]
    assert {"utility_eval", "privacy_eval", "total"} <= set(rec["timings"])
    created = rec["created"]

    code, out = bench(*args)
    assert code == 0 and "record exists" in out
    assert records(results)[0]["created"] == created  # not retrained

    code, out = bench(*args, "--force")
    assert code == 0 and "record exists" not in out


@pytest.mark.xdist_group("penalty_run")  # one worker computes the shared run
def test_penalty_run_shows_raw_reference(penalty_run: tuple[Path, str]) -> None:
    results, out = penalty_run
    recs = {r["method"]: r for r in records(results)}
    assert set(recs) == {"penalty", "raw"}
    penalty = recs["penalty"]
    assert penalty["params"]["B"] == 0.3 and penalty["params"]["penalty_grad"] == "full"
    assert {"identity", "warmup", "minimax"} <= set(penalty["history"])
    assert (results / "fits" / penalty["fit_key"] / "anonymizer.pt").is_file()
    assert "penalty" in out and "raw" in out and "record written to" in out
    assert "raw reference record" in out
    # each cell is announced with its preset label; each bar is numbered among the cell's
    flat = " ".join(out.split())
    assert "cell 1/2 raw (no parameters) / known / synthetic / tiny[" in flat
    assert "cell 2/2 penalty (B=0.3" in flat and "anon_epochs=2" in flat
    assert "stage 1/2 fT' (action eval)" in flat and "stage 2/2 fB' (privacy eval)" in flat
    assert "stage 1/6 fA identity pretraining" in flat and "stage 6/6 fB' (privacy eval)" in flat
    assert "lr=derived" in flat and "lr=None" not in flat  # as `bench methods` shows it


@pytest.mark.slow
def test_paper_preset_architectures_run_end_to_end(tmp_path: Path, cache_dir: Path) -> None:
    """I3D-R50, ResNet-50 and the depth-5 UNet++ through the whole pipeline, at reduced size."""
    small = ["--set", "frame_size=64", "--set", "frames=4", "--set", "ssl_frame_gap=2", "--set", "eval_clips=2",
             "--set", "anon_batch=4", "--set", "action_batch=8", "--set", "privacy_batch=16"]  # fmt: skip
    code, out = bench("run", "--method", "penalty", "--preset", "paper", "--no-reference",
                      "--allow-scratch", "--results-dir", str(tmp_path), "--cache-dir",
                      str(cache_dir), *FAST, *small)  # fmt: skip
    assert code == 0, out
    [rec] = records(tmp_path)
    assert rec["config"]["preset"]["aux_ft_arch"] == "i3d_r50"
    assert rec["config"]["preset"]["aux_fb_arch"] == "resnet50"
    # no Kinetics-400 / ImageNet checkpoint here: the key and the label say scratch
    assert rec["config"]["preset"]["aux_ft_init"] == "scratch"
    assert rec["config"]["preset"]["aux_fb_init"] == "scratch"


def test_logger_wandb_offline_gets_the_run_without_network(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    code, out = bench("run", "--method", "raw", "--results-dir", str(tmp_path), "--cache-dir",
                      str(cache_dir), *FAST, "--set", "action_epochs=2", "--logger", "wandb")  # fmt: skip
    assert code == 0, out
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "records").glob("*.json")]
    (offline,) = (Path(record["run_dir"]) / "wandb").glob("offline-run-*/run-*.wandb")
    data = offline.read_bytes()  # wandb's record log (protobuf): what `wandb sync` uploads
    assert b"fT' (action eval)/loss" in data and b"privacy eval)/val" in data
    for row in record["history"]["fT' (action eval)"]:  # every epoch's value, as JSON
        assert json.dumps(row["loss"]).encode() in data


def test_logger_tensorboard_gets_every_epoch_and_not_the_key(
    tmp_path: Path, cache_dir: Path
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    common = ["run", "--method", "raw", "--results-dir", str(tmp_path), "--cache-dir",
              str(cache_dir), *FAST, "--set", "action_epochs=2"]  # fmt: skip
    code, out = bench(*common, "--logger", "nope")
    assert code == 2 and "unknown; known loggers: tensorboard, wandb" in out
    code, out = bench(*common, "--logger", "tensorboard")
    assert code == 0, out
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "records").glob("*.json")]
    events = EventAccumulator(str(Path(record["run_dir"]) / "tensorboard"))
    events.Reload()
    loss = events.Scalars("fT' (action eval)/loss")
    assert [e.step for e in loss] == [0, 1]
    assert [round(e.value, 5) for e in loss] == [
        r["loss"] for r in record["history"]["fT' (action eval)"]
    ]
    code, out = bench(*common)  # the same cell without a logger: the stored record
    assert code == 0 and "record exists" in out


def test_perf_gpu_times_and_counts_each_training_step_on_cpu() -> None:
    """`bench perf --gpu` on a CPU (the GPU path's code, at the tiny preset): each step's
    speed and FLOPs, and no peak to compare with."""
    code, out = bench("perf", "--gpu", "--preset", "tiny", "--device", "cpu", "--steps", "1")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "fT' tiny" in flat and "fB' tiny" in flat and "16 clips" in flat, out
    assert "not checked (no known GPU peak for cpu" in flat, out


def test_step_flops_are_counted_forward_and_backward() -> None:
    import torch

    from bench.contract.config import resolve_preset
    from bench.perf.gpu_steps import StepFigure, measure_steps

    (anon, ft, fb) = measure_steps(resolve_preset("tiny", {}), torch.device("cpu"), 1, 0)
    assert all(f.tflop > 0 and f.seconds > 0 and f.peak is None for f in (anon, ft, fb))
    figure = StepFigure("x", 10, "clips", 0.5, 2.0, 8.0)
    assert figure.items_per_s == 20 and figure.tflops == 4.0 and figure.share_of_peak == 0.5
