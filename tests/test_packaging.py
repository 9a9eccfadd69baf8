"""A wheel install has what a source checkout has: the published numbers, the sweep files
and the plug-in folders, and `bench table 1 --paper` works from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the files git tracks, in a copy (no stale build/ can leak in)."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in tracked:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [built] = out.glob("privbench-*.whl")
    return built


def test_wheel_holds_the_published_numbers_sweeps_and_plugins(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for table in (1, 2, 3, 5, 6, 7, 8):
        assert f"bench/reports/paper_numbers/table{table}.csv" in names
    shipped = {p.name for p in (REPO / "bench" / "sweeps").glob("*.toml")}
    assert shipped and {f"bench/sweeps/{n}" for n in shipped} <= names
    assert {"bench/methods/penalty.py", "bench/protocols/known.py"} <= names
    assert "bench/datasets/synthetic.py" in names and "bench/cli/app.py" in names


def test_table_paper_works_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import bench.reports.published as p; print(p.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(site))  # the wheel's copy, not the checkout's
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "table", "1", "--paper",
         "--results-dir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "78.88" in done.stdout  # Table 1's published raw UCF101 top-1
