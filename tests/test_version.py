"""One version: `bench.contract.config.CODE_VERSION` is written once, and pyproject.toml,
CITATION.cff, `bench.__version__` and `bench --version` all say the same."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from typer.testing import CliRunner

import bench
from bench.cli.app import app
from bench.contract.config import CODE_VERSION

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev|post)\d*)?", CODE_VERSION)
    assert bench.__version__ == CODE_VERSION


def test_pyproject_reads_the_version_from_the_code() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    if "version" in project["project"]:  # written out: it must be the same
        assert project["project"]["version"] == CODE_VERSION
    else:
        assert "version" in project["project"]["dynamic"]
        attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
        module, _, name = attr.rpartition(".")
        assert (module, name) == ("bench.contract.config", "CODE_VERSION")


def test_citation_names_the_same_version() -> None:
    found = re.findall(r"^version:\s*['\"]?([^'\"\s]+)", (REPO / "CITATION.cff").read_text(), re.M)
    assert found == [CODE_VERSION]


def test_bench_version_prints_it() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"privbench {CODE_VERSION}"
