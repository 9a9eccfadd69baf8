"""`bench weights`: every checkpoint a run can load, listed from the one registry, found (or
not) in the cache dir and torch's hub folder, and checked against the sha256 prefix in its
name. Nothing is downloaded: missing files get the curl lines that fetch them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bench.cli import app
from bench.models.action import ARCHS
from bench.models.checkpoint_catalog import checkpoints
from bench.models.person_detector import DEFAULT_DETECTOR, DETECTORS


def weights(tmp_path: Path, *args: str) -> tuple[int, str]:
    """`bench weights ARGS` with the cache dir and TORCH_HOME in `tmp_path`."""
    env = {"COLUMNS": "200", "TORCH_HOME": str(tmp_path / "torch")}
    result = CliRunner().invoke(
        app, ["weights", *args, "--cache-dir", str(tmp_path / "cache")], env=env
    )
    return result.exit_code, result.output


def hub(tmp_path: Path) -> Path:
    """torch's hub checkpoint folder under TORCH_HOME = tmp_path/torch."""
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_registry_holds_every_models_and_the_detectors_checkpoints() -> None:
    urls = {c.weights.url for c in checkpoints()}
    assert len(urls) == len(checkpoints())  # one entry per file, its uses merged
    assert {a.kinetics400.url for a in ARCHS.values() if a.kinetics400} <= urls
    assert {d.weights.url for d in DETECTORS.values()} <= urls
    by_name = {c.weights.filename: c for c in checkpoints()}
    assert by_name["r2plus1d_18-91a641e6.pth"].weights.sha256_prefix == "91a641e6"
    assert by_name["I3D_8x8_R50.pyth"].weights.sha256_prefix is None  # pytorchvideo: none
    assert any("preset paper" in use for use in by_name["resnet50-0676ba61.pth"].uses)
    detector = DETECTORS[DEFAULT_DETECTOR].weights.filename
    assert any("person detector" in use for use in by_name[detector].uses)


def test_missing_checkpoints_are_listed_with_the_lines_that_fetch_them(tmp_path: Path) -> None:
    code, out = weights(tmp_path)
    assert code == 0, out
    first = tmp_path / "cache" / "weights"
    assert f"mkdir -p {first}" in out
    for entry in checkpoints():
        line = f"curl -L -o {first / entry.weights.filename} {entry.weights.url}"
        assert line in out
    assert f"{len(checkpoints())} checkpoints: {len(checkpoints())} missing" in out
    assert str(hub(tmp_path)) in out  # where it looks, second
    code, out = weights(tmp_path, "--wget")
    assert f"wget -O {first / 'r3d_18-b3b3357e.pth'} https://" in out


def test_verify_reports_a_damaged_file_in_one_line_and_exits_1(tmp_path: Path) -> None:
    damaged = hub(tmp_path) / "r3d_18-b3b3357e.pth"
    damaged.write_bytes(b"not the checkpoint")
    code, out = weights(tmp_path, "verify")
    assert code == 1, out
    (line,) = [x for x in out.splitlines() if "corrupt" in x]
    digest = hashlib.sha256(b"not the checkpoint").hexdigest()
    assert str(damaged) in line and digest[:8] in line and "b3b3357e" in line
    assert "https://download.pytorch.org/models/r3d_18-b3b3357e.pth again" in line
    code, out = weights(tmp_path)  # the listing says so and fetches it over the bad file
    assert code == 0 and "CORRUPT" in out
    assert f"curl -L -o {damaged} https://download.pytorch.org/models/r3d_18-b3b3357e.pth" in out


def test_verify_with_nothing_on_disk_says_where_it_looked(tmp_path: Path) -> None:
    code, out = weights(tmp_path, "verify")
    assert code == 0 and "no checkpoint is on this machine" in out
    assert str(tmp_path / "cache" / "weights") in out


def test_a_plugins_checkpoint_with_the_right_sha256_is_present_and_verified(
    tmp_path: Path,
) -> None:
    """A checkpoint registered by a plug-in, planted with content whose sha256 its name
    carries (in its own process: the registration stays in the process that loads it)."""
    content = b"weights of a plug-in model"
    prefix = hashlib.sha256(content).hexdigest()[:8]
    plugin = tmp_path / "fake_model.py"
    plugin.write_text(
        "from bench.models.weights import PretrainedWeights\n"
        "from bench.models.checkpoint_catalog import register_checkpoint\n"
        f"register_checkpoint(PretrainedWeights('test', 'https://example.invalid/fake-{prefix}.pth'),"
        " 'a plug-in model')\n"
    )
    planted = tmp_path / "cache" / "weights" / f"fake-{prefix}.pth"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(content)
    env = {**os.environ, "COLUMNS": "250", "TORCH_HOME": str(tmp_path / "torch")}
    base = [sys.executable, "-m", "bench.cli", "weights"]
    options = ["--cache-dir", str(tmp_path / "cache"), "--plugin", str(plugin)]

    def run(*args: str) -> tuple[int, str]:
        done = subprocess.run([*base, *args, *options], capture_output=True, text=True, env=env)
        return done.returncode, done.stdout + done.stderr

    code, out = run()
    assert code == 0, out
    (row,) = [x for x in out.splitlines() if f"example.invalid/fake-{prefix}.pth" in x]
    assert "verified" in row and "a plug-in model" in row and prefix in row
    assert f"fake-{prefix}.pth https://" not in out  # no fetch line for it
    code, out = run("verify")
    assert code == 0, out
    assert f"verified   {planted}" in out and "1 present, 0 damaged" in out
