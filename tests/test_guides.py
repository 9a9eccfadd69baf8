"""The extension guides' examples are the shipped files, verbatim, and they work as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST
from tests.test_cli import bench, records

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
GUIDES = EXAMPLES.parent


@pytest.mark.parametrize(
    ("guide", "example"),
    [
        ("adding-a-method.md", "pixelate.py"),
        ("adding-a-method.md", "test_pixelate.py"),
        ("adding-a-protocol.md", "privacy_only.py"),
    ],
)
def test_guide_shows_its_example_verbatim(guide: str, example: str) -> None:
    assert (EXAMPLES / example).read_text() in (GUIDES / guide).read_text()


def test_protocol_example_registers_a_new_name_and_scores_privacy_alone(
    tmp_path: Path, cache_dir: Path
) -> None:
    plugin = str(EXAMPLES / "privacy_only.py")
    code, out = bench("protocols", "--plugin", plugin)
    assert code == 0 and "privacy-only" in out
    results = tmp_path / "results"
    code, out = bench("run", "--plugin", plugin, "--protocol", "privacy-only", "--method", "blur",
                      "--region", "frame", "--no-reference", "--results-dir", str(results),
                      "--cache-dir", str(cache_dir), *FAST)  # fmt: skip
    assert code == 0, out
    (record,) = records(results)
    assert record["protocol"] == "privacy-only"
    assert set(record["metrics"]) == {"privacy_cmap", "privacy_f1"}
    assert "utility_eval" not in record["timings"]  # no fT' was trained
    assert "stage 1/1" in out  # its one evaluation stage, announced by evaluation_stages


def test_method_test_template_passes(tmp_path: Path, cache_dir: Path) -> None:
    """The template's tests, run as the guide says (in their own process: the plug-in it
    loads must not meet another copy of pixelate in this one), the data cache shared."""
    env = {**os.environ, "BENCH_CACHE_DIR": str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "test_pixelate.py"), "-q",
         "-o", "addopts=", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t")],
        capture_output=True, text=True, env=env, cwd=EXAMPLES.parents[1], check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
