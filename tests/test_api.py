"""The keyword Python API gives what the CLI gives, and older records stay readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

import bench
from bench.contract.config import legacy_digest
from tests.conftest import make_record, stored
from tests.test_cli import bench as cli


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    stored(
        tmp_path,
        make_record("raw", top1=0.98, cmap=0.99),
        make_record("penalty", {"B": 0.3}, top1=0.95, cmap=0.85),
    )
    return tmp_path


def test_table_is_the_cli_table(results: Path) -> None:
    for fmt in ("md", "latex", "csv"):
        code, out = cli("table", "1", "-f", fmt, "--paper", "--results-dir", str(results))
        assert code == 0
        assert bench.table(1, bench.records(results), format=fmt, paper=True) == out


def test_figure_and_bad_names(results: Path) -> None:
    assert isinstance(bench.figure("pareto", bench.records(results)), Figure)
    with pytest.raises(bench.BenchError, match="no figure 'nope'; figures: pareto"):
        bench.figure("nope", bench.records(results))
    with pytest.raises(bench.BenchError, match="--format html: must be one of"):
        bench.table(1, bench.records(results), format="html")


def test_settings_take_python_values_as_set_spells_them() -> None:
    cfg = bench.config("penalty", settings={"anon_augment": True, "anon_decoder": (16, 8, 4)})
    assert cfg.preset.anon_augment is True and cfg.preset.anon_decoder == (16, 8, 4)
    assert (
        cfg.key()
        == bench.config(
            "penalty", settings={"anon_augment": "true", "anon_decoder": "16,8,4"}
        ).key()
    )


def test_records_with_the_old_auxiliary_key_names_read_as_before(tmp_path: Path) -> None:
    new = make_record("penalty", {"B": 0.3})
    old = make_record("penalty", {"B": 0.3}, seed=1)
    preset = old["config"]["preset"]
    preset["ft_arch"], preset["fb_arch"] = preset.pop("aux_ft_arch"), preset.pop("aux_fb_arch")
    old["key"] = legacy_digest(old["config"])  # as the code of then keyed it
    views = {v.seed: v for v in stored(tmp_path, new, old).views}
    assert views[1].preset == views[0].preset == "tiny"
    assert views[1].evaluation == views[0].evaluation
