"""`bench claims` decides each of the paper's claims from records: held, not held, or not
measured when its cells are missing, with paired comparisons over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_record, stored
from test_cli import bench

from bench.reports.claims import Paired, claims

SEEDS = (0, 1, 2)


def rows(method: str, params: dict[str, Any], top1: float, cmap: float) -> list[dict[str, Any]]:
    """Three seeds of one cell, a little apart (so the paired tests have a spread)."""
    return [
        make_record(method, params, top1=top1 + 0.01 * s, cmap=cmap + 0.004 * s, seed=s)
        for s in SEEDS
    ]


def penalty_rows(top1s: tuple[float, ...], cmap: float = 0.6) -> list[dict[str, Any]]:
    out = []
    for b, top1 in zip((0.3, 0.5, 0.7, 0.9), top1s, strict=True):
        out += rows("penalty", {"B": b}, top1, cmap + 0.001 * b)
    return out


def verdicts(root: Path) -> dict[str, bool | None]:
    from bench.store.reading import RecordSet

    loaded = RecordSet.load(root)
    return {c.claim: c.holds for c in claims(loaded, "tiny")}


def test_claims_held_when_the_records_show_them(tmp_path: Path) -> None:
    stored(
        tmp_path,
        *penalty_rows((0.80, 0.75, 0.70, 0.65)),
        *rows("spact", {}, 0.55, 0.60),
        *rows("vita", {}, 0.50, 0.59),
        *rows("penalty", {"B": 0.3, "lam": 0.0}, 0.555, 0.601),
        *rows("penalty", {"B": 0.3, "penalty_grad": "detached"}, 0.60, 0.61),
        *rows("blur", {"strength": "weak"}, 0.78, 0.85),
        *rows("downsample", {"factor": 4}, 0.5, 0.55),
    )
    found = verdicts(tmp_path)
    assert found.pop(RANKS) is None  # raw, blackening, strong blur, 2x have no records
    assert all(v is True for v in found.values()), found


def test_claims_not_held_when_the_records_contradict_them(tmp_path: Path) -> None:
    stored(
        tmp_path,
        *penalty_rows((0.65, 0.70, 0.75, 0.80)),  # action falls as B falls
        *rows("spact", {}, 0.80, 0.40),
        *rows("blur", {"strength": "weak"}, 0.9, 0.5),  # dominates B = 0.3
    )
    found = verdicts(tmp_path)
    assert found["Action rises as B falls (B = 0.9 -> 0.3)"] is False
    assert found["B = 0.3 strikes the best balance among B = 0.3-0.9"] is False
    assert (
        found["The learned methods beat the fixed obfuscations on the (top-1, cMAP) plane"] is False
    )
    assert found["lambda = 0 (no penalty) falls to SPAct's level"] is None  # no lambda = 0 runs


RANKS = "Table 1 ranks its rows as the paper's does (not a claim of the paper: the benchmark's)"


def test_table_1_ranks_as_the_papers_only_when_its_rows_do(tmp_path: Path) -> None:
    from bench.reports.calibration import paper_value
    from bench.reports.table_specs import FIXED, OURS, RAW, SPACT, VITA

    table = (RAW, *FIXED, VITA, SPACT, *OURS)

    def store(root: Path, sign: float) -> None:  # the paper's numbers, or their mirror image
        stored(root, *(
            record
            for row in table
            for record in rows(
                row.method,
                dict(row.params),
                0.5 + sign * (paper_value(row, "action_top1") - 50) / 250,
                0.5 + sign * (paper_value(row, "privacy_cmap") - 50) / 250,
            )
        ))  # fmt: skip

    store(tmp_path / "same", 1.0)
    assert verdicts(tmp_path / "same")[RANKS] is True
    store(tmp_path / "mirrored", -1.0)
    assert verdicts(tmp_path / "mirrored")[RANKS] is False


def test_paired_t_is_significant_only_beyond_the_critical_value() -> None:
    assert Paired(1.0, 0.1, 17.3, (0, 1, 2)).significant
    assert not Paired(1.0, 1.0, 1.7, (0, 1, 2)).significant
    assert not Paired(1.0, 0.0, float("inf"), (0,)).significant  # one seed decides nothing


def test_claims_command_prints_every_claim(tmp_path: Path) -> None:
    stored(tmp_path, *penalty_rows((0.80, 0.75, 0.70, 0.65)))
    code, out = bench("claims", "--results-dir", str(tmp_path))
    assert code == 0, out
    assert "| Action rises as B falls" in out and "| held |" in out and "not measured" in out
    code, out = bench("claims", "--results-dir", str(tmp_path), "--format", "yaml")
    assert code == 2 and "must be markdown or text" in out


def test_an_undecided_claim_names_only_the_rows_it_lacks(tmp_path: Path) -> None:
    """With B = 0.3 and SPAct stored but no other B row, the B claims name B = 0.5-0.9 as
    missing, never the rows that are there."""
    from bench.store.reading import RecordSet

    stored(tmp_path, *rows("penalty", {"B": 0.3}, 0.9, 0.7), *rows("spact", {}, 0.9, 0.7))
    found = {c.claim: c for c in claims(RecordSet.load(tmp_path), "tiny")}
    action = found["Action rises as B falls (B = 0.9 -> 0.3)"]
    assert action.holds is None
    assert action.evidence == (
        "missing records (fewer than two seeds) of Ours (B = 0.5), Ours (B = 0.7), Ours (B = 0.9)"
    )
