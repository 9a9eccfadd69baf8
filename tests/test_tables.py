"""`bench table`: the paper's tables rebuilt from records in the real results store, and the
published numbers transcribed in results/paper/."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import make_record, stored
from test_cli import bench

from bench.contract.config import legacy_digest
from bench.reports.published import PAPER_DIR, PAPER_TABLES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PRIVBENCH_UPDATE_GOLDEN") == "1"  # rewrite the golden files


def store_record(
    results: Path, method: str, metrics: tuple[float, float, float], **options: Any
) -> None:
    """A record of `method` with (top-1, cMAP, F1), saved by the real store."""
    top1, cmap, f1 = metrics
    stored(results, make_record(method, top1=top1, cmap=cmap, f1=f1, **options))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Records of a few Table 1 cells (two seeds for raw and B = 0.3), plus runs that other
    tables own and Table 1 must not pick up."""
    root = tmp_path / "results"
    store_record(root, "raw", (0.90, 0.80, 0.70), seed=0)
    store_record(root, "raw", (0.94, 0.84, 0.74), seed=1)
    store_record(root, "downsample", (0.50, 0.40, 0.30), params={"factor": 2})
    store_record(root, "spact", (0.70, 0.50, 0.40), seed=0)
    store_record(root, "spact", (0.74, 0.54, 0.44), seed=2)  # raw has no seed 2
    store_record(root, "penalty", (0.80, 0.52, 0.41), params={"B": 0.3}, seed=0)
    store_record(root, "penalty", (0.84, 0.56, 0.45), params={"B": 0.3}, seed=1)
    store_record(root, "penalty", (0.10, 0.10, 0.10), params={"B": 0.3, "lam": 0.5})  # Table 3's
    store_record(root, "penalty", (0.20, 0.20, 0.20), params={"B": 0.3, "penalty_grad": "detached"})
    store_record(  # Table 7's ResNet-18 column
        root, "penalty", (0.30, 0.30, 0.30), params={"B": 0.3}, evaluation={"fb_arch": "resnet18"}
    )
    return root


def check_golden(name: str, text: str) -> None:
    """`text` equals tests/golden/<name> (rewritten instead with PRIVBENCH_UPDATE_GOLDEN=1)."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), (
        f"{name} changed; review and rerun with PRIVBENCH_UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize(
    ("args", "golden"),
    [
        (["1"], "table1.md"),
        (["1", "--paper"], "table1-paper.md"),
        (["1", "--format", "latex"], "table1.tex"),
        (["1", "--format", "latex", "--paper", "--fragment"], "table1-paper-fragment.tex"),
        (["1", "--format", "csv", "--paper"], "table1-paper.csv"),
        (["7"], "table7.md"),
    ],
)
def test_table_matches_golden_file(results: Path, args: list[str], golden: str) -> None:
    code, out = bench("table", *args, "--results-dir", str(results))
    assert code == 0, out
    check_golden(golden, out)


def test_table_cells_are_means_over_seeds_with_the_drop_from_raw(results: Path) -> None:
    code, out = bench("table", "1", "--results-dir", str(results))
    assert code == 0
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("|")}
    assert list(rows)[2:] == [
        "Raw data", "Downsample-2x", "Downsample-4x", "Obf-Blackening", "Obf-StrongBlur",
        "Obf-WeakBlur", "VITA", "SPAct", "Ours (B = 0.3)", "Ours (B = 0.5)", "Ours (B = 0.7)",
        "Ours (B = 0.9)",
    ]  # fmt: skip
    assert "| 92.00 ± 2.83 " in rows["Raw data"]
    # B = 0.3: top-1 82.00 ± 2.83 over seeds 0 and 1; raw over the same seeds is 92.00
    assert "| 82.00 ± 2.83 (↓ 10.00)" in rows["Ours (B = 0.3)"]
    assert "| 0.430 ± 0.028 (↓ 0.290)" in rows["Ours (B = 0.3)"]
    # one seed: compared with raw's run of that seed (90.00), not raw's mean
    assert "| 50.00 (↓ 40.00) " in rows["Downsample-2x"]
    # seeds 0 and 2, raw has no seed 2: drop from raw's mean over its seeds, starred
    assert "| 72.00 ± 2.83 (↓ 20.00*) " in rows["SPAct"]
    assert "A starred drop (x*): raw has no run of some" in out
    # no record: a dash in every column; the lambda / detached / ResNet-18 runs are elsewhere
    assert rows["Ours (B = 0.5)"].count("–") == 3
    assert "| 10.00 " not in out and "| 20.00 " not in out and "| 30.00 " not in out
    assert "STPrivacy" not in out  # published numbers only: shown with --paper


def test_table_csv_is_long_form_with_every_source(results: Path) -> None:
    code, out = bench("table", "1", "--format", "csv", "--paper", "--results-dir", str(results))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    ours = {(r["row"], r["metric"]): r for r in rows if r["source"] == "ours"}
    assert ours["Ours (B = 0.3)", "action_top1"]["n"] == "2"
    assert float(ours["Ours (B = 0.3)", "action_top1"]["mean"]) == pytest.approx(82.0)
    assert float(ours["Ours (B = 0.3)", "action_top1"]["drop"]) == pytest.approx(10.0)
    paper = {(r["row"], r["dataset"], r["metric"]): r for r in rows if r["source"] == "paper"}
    assert paper["Raw data", "UCF101", "action_top1"]["mean"] == "78.88"


def test_table_without_records_shows_the_published_table(tmp_path: Path) -> None:
    code, out = bench("table", "2", "--paper", "--results-dir", str(tmp_path))
    assert code == 0
    assert "VPHMDB → VPUCF" in out and "78.95 (↓ 13.28)" in out  # Ours B = 0.9 on VPUCF
    assert "STPrivacy" in out and "74.60" in out


def test_table_reads_the_default_preset_among_several_and_rejects_unknown_input(
    results: Path,
) -> None:
    # a shortened run of a protocol Table 1 never reads changes nothing, not even a note
    store_record(results, "raw", (0.5, 0.5, 0.5), protocol="novel", overrides={"frames": "6"})
    code, out = bench("table", "1", "--results-dir", str(results))
    assert code == 0 and "92.00 ± 2.83" in out and "frames=6" not in out
    # one under Table 1's protocol: the default preset is shown, the other named in a note
    store_record(results, "penalty", (0.5, 0.5, 0.5), overrides={"action_epochs": "1"})
    code, out = bench("table", "1", "--results-dir", str(results))
    assert code == 0 and "92.00 ± 2.83" in out, out
    assert "others were run at tiny[action_epochs=1]" in out and "pass --preset" in out
    code, out = bench("report", "--results-dir", str(results), "--out", str(results / "rep"))
    assert code == 0 and "others were run at tiny[action_epochs=1]" in out
    code, out = bench("table", "1", "--results-dir", str(results), "--preset", "tiny")
    assert code == 0 and "92.00 ± 2.83" in out and "others were run" not in out
    code, out = bench(
        "table", "1", "--results-dir", str(results), "--preset", "tiny[action_epochs=1]"
    )
    assert code == 0 and "50.00" in out
    code, out = bench("table", "1", "--results-dir", str(results), "--preset", "small")
    assert code == 2 and "no records at it" in out and "tiny" in out
    code, out = bench("table", "4", "--results-dir", str(results))
    assert code == 2 and "1, 2, 3, 5, 6, 7, 8" in out
    code, out = bench("table", "1", "--format", "html", "--results-dir", str(results))
    assert code == 2 and "md, latex, csv" in out
    code, out = bench("table", "1", "--results-dir", str(results / "records" / "x.json"))
    assert code == 2 and "no such folder" in out
    (results / "notes.txt").write_text("")
    code, out = bench("table", "1", "--results-dir", str(results / "notes.txt"))
    assert code == 2 and "is a file, not a folder" in out


def test_fixed_methods_serve_every_anonymizer_training_setting(tmp_path: Path) -> None:
    """`--set anon_epochs=1` changes the learned runs only; raw (which never trains an
    anonymizer) is the reference of both settings."""
    root = tmp_path / "results"
    store_record(root, "raw", (0.90, 0.80, 0.70))
    store_record(root, "penalty", (0.80, 0.60, 0.50), params={"B": 0.3})
    store_record(
        root, "penalty", (0.70, 0.50, 0.40), params={"B": 0.3}, overrides={"anon_epochs": "1"}
    )
    code, out = bench("table", "1", "--results-dir", str(root), "--preset", "tiny[anon_epochs=1]")
    assert code == 0, out
    assert "| 90.00 " in out and "| 70.00 (↓ 20.00) " in out
    assert "synthetic at preset tiny[anon_epochs=1]" in out
    code, out = bench("table", "1", "--results-dir", str(root), "--preset", "tiny")
    assert code == 0 and "| 80.00 (↓ 10.00) " in out


def test_unreadable_records_are_skipped_with_a_warning(results: Path) -> None:
    (results / "records" / "0000000000000000.json").write_text("{ not json")
    (results / "records" / "1111111111111111.json").write_text('{"method": "raw"}')
    code, out = bench("table", "1", "--results-dir", str(results))
    assert code == 0
    assert "skipped: record" in out and "is unreadable (not JSON" in out and "(no 'key')" in out
    assert "| 92.00 ± 2.83 " in out


def test_columns_select_their_protocol_and_evaluation_models(tmp_path: Path) -> None:
    root = tmp_path / "results"
    stored(
        root,
        make_record(
            "raw", top1=0.60, evaluation={"ft_arch": "r2plus1d_18", "ft_init": "kinetics400"}
        ),
        make_record(
            "penalty",
            {"B": 0.3},
            top1=0.55,
            evaluation={"ft_arch": "r2plus1d_18", "ft_init": "kinetics400"},
        ),
        make_record("penalty", {"B": 0.3}, top1=0.40, evaluation={"ft_arch": "r2plus1d_18"}),
        make_record("penalty", {"B": 0.3}, cmap=0.30, f1=0.2, protocol="pretrained-attack-novel"),
        make_record(
            "penalty",
            {"B": 0.3},
            cmap=0.45,
            f1=0.3,
            evaluation={"fb_arch": "resnet50", "fb_init": "imagenet"},
        ),
    )

    def cells(number: str) -> dict[tuple[str, str, str], str]:
        code, out = bench("table", number, "--format", "csv", "--results-dir", str(root))
        assert code == 0, out
        return {
            (r["row"], r["column"], r["metric"]): r["mean"]
            for r in csv.DictReader(io.StringIO(out))
        }

    assert cells("5") == {
        ("Raw data", "R(2+1)D-18 K400", "action_top1"): "60",
        ("Ours (B = 0.3)", "R(2+1)D-18 K400", "action_top1"): "55",
        ("Ours (B = 0.3)", "R(2+1)D-18", "action_top1"): "40",
    }
    assert cells("6") == {
        ("Ours (B = 0.3)", "cMAP (↓%)", "privacy_cmap"): "30",
        ("Ours (B = 0.3)", "F1 (↓)", "privacy_f1"): "0.2",
    }
    assert cells("8") == {
        ("Ours (B = 0.3)", "cMAP (↓%)", "privacy_cmap"): "45",
        ("Ours (B = 0.3)", "F1 (↓)", "privacy_f1"): "0.3",
    }
    assert cells("7") == {}


def test_table_writes_a_file(results: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "tables" / "table1.tex"
    code, _ = bench(
        "table", "1", "-f", "latex", "--results-dir", str(results), "--out", str(out_file)
    )
    assert code == 0
    text = out_file.read_text()
    assert text.startswith("\\documentclass") and "\\toprule" in text and "\\bottomrule" in text


# ----------------------------------------------------------------- published numbers as data


def paper_rows() -> list[dict[str, str]]:
    rows = []
    for n in PAPER_TABLES:
        with (PAPER_DIR / f"table{n}.csv").open(newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


@pytest.mark.parametrize(
    ("table", "method", "params", "dataset", "arch", "metric", "value", "drop"),
    [
        ("1", "raw", "", "UCF101", "", "action_top1", "78.88", ""),
        ("1", "penalty", "B=0.3", "PA-HMDB", "", "privacy_cmap", "65.67", "4.53"),
        ("1", "blur", "strength=weak", "VPHMDB", "", "privacy_f1", "0.663", ""),
        ("2", "penalty", "B=0.9", "VPHMDB->VPUCF", "", "action_top1", "78.95", "13.28"),
        ("3", "penalty", "B=0.3;lam=0.7", "UCF101", "", "action_top1", "74.28", ""),
        ("5", "spact", "", "UCF101", "c3d", "action_top1", "56.10", "2.41"),
        ("6", "vita", "", "VISPR2", "", "privacy_cmap", "26.61", "31.02"),
        ("7", "raw", "", "VISPR1", "resnet152", "privacy_f1", "0.485", ""),
        ("8", "penalty", "B=0.5", "VISPR1", "resnet101", "privacy_cmap", "58.95", "12.14"),
    ],
)
def test_published_cells_match_the_paper(
    table: str,
    method: str,
    params: str,
    dataset: str,
    arch: str,
    metric: str,
    value: str,
    drop: str,
) -> None:
    found = [
        r
        for r in paper_rows()
        if (r["table"], r["method"], r["params"], r["dataset"], r["arch"], r["metric"])
        == (table, method, params, dataset, arch, metric)
    ]
    assert len(found) == 1
    assert (found[0]["value"], found[0]["printed_drop"]) == (value, drop)


def test_published_oddities_are_kept_and_noted() -> None:
    rows = paper_rows()
    swapped = {
        r["metric"]: r
        for r in rows
        if (r["table"], r["method"], r["params"], r["dataset"])
        == ("1", "downsample", "factor=2", "VPHMDB")
    }
    assert swapped["privacy_cmap"]["value"] == "0.601" and swapped["privacy_f1"]["value"] == "71.35"
    assert "swap" in swapped["privacy_cmap"]["note"] and "swap" in swapped["privacy_f1"]["note"]
    assert {r["unit"] for r in rows if r["metric"] == "privacy_f1"} == {"fraction"}
    assert {r["unit"] for r in rows if r["metric"] != "privacy_f1"} == {"percent"}


def test_every_printed_drop_adds_up_or_is_noted() -> None:
    """raw - value = printed drop, within the rounding of the three printed numbers."""
    rows = paper_rows()
    raw = {
        (r["table"], r["dataset"], r["arch"], r["init"], r["metric"]): r["value"]
        for r in rows
        if r["method"] == "raw"
    }

    def half_ulp(text: str) -> float:
        return 0.5 * 10 ** -len(text.partition(".")[2])

    checked = 0
    for r in rows:
        reference = raw.get((r["table"], r["dataset"], r["arch"], r["init"], r["metric"]))
        if not r["printed_drop"] or reference is None:
            continue
        checked += 1
        error = abs(float(reference) - float(r["value"]) - float(r["printed_drop"]))
        tolerance = sum(map(half_ulp, (reference, r["value"], r["printed_drop"]))) + 1e-9
        assert error <= tolerance or r["note"], r
    assert checked > 150


def test_only_methods_no_paper_table_has_get_extra_rows(results: Path) -> None:
    code, out = bench("table", "3", "--results-dir", str(results))
    assert code == 0
    assert "Downsample" not in out and "downsample" not in out  # a Table 1 row, not Table 3's
    assert "| λ = 0.5 " in out and "| 10.00 " in out


def test_records_made_before_newer_settings_keep_their_cells(tmp_path: Path) -> None:
    """A record without the `recipe` parameter or the eval_patience / anon_patience /
    anon_output / precision settings (made before they existed) still fills its row, read at the values
    it ran with, and VITA's derived loss is stored as the one it trained with."""
    root = tmp_path / "results"
    for method, params in (("raw", {}), ("penalty", {"B": 0.3})):
        record = make_record(method, params, top1=0.8, cmap=0.7)
        record["params"].pop("recipe", None)
        for key in ("eval_patience", "anon_patience", "anon_output", "anon_tolerance", "precision"):
            record["config"]["preset"].pop(key, None)
        record["key"] = legacy_digest(record["config"])  # as the code of then keyed it
        stored(root, record)
    code, out = bench("table", "1", "--results-dir", str(root))
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("| Ours (B = 0.3)"))
    assert "80.00 (↓ 0.00)" in row
    # read at what they ran: no stopping rule, fp32 on the CPU (a bounded fA, as today's)
    assert "at preset tiny[anon_patience=0 precision=auto];" in out
    assert make_record("vita")["params"]["adversary_loss"] == "entropy"
    released = make_record("vita", {"recipe": "released"})["params"]
    assert released["adversary_loss"] == "ones"


def test_chance_normalised_cmap_is_per_seed_against_raw_and_chance(results: Path) -> None:
    from bench.reports.tables import build_table, render, table_spec
    from bench.store.reading import RecordSet

    built = build_table(table_spec(1), RecordSet.load(results), chance=lambda d, p, s: 40.0)
    text = render(built, "md")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("|")}
    # B = 0.3: seed 0 (52 - 40) / (80 - 40) = 30.0 %, seed 1 (56 - 40) / (84 - 40) = 36.4 %
    assert "(↓ 28.00) [c 33.2 ± 4.5]" in rows["Ours (B = 0.3)"]
    assert "[c 100.0 ± 0.0]" in rows["Raw data"]
    # SPAct's seed 2 has no raw run to normalise against: seed 0 alone, (50 - 40) / 40
    assert "[c 25.0]" in rows["SPAct"]
    assert "[c x]: chance-normalised cMAP" in text
    assert "[c " not in render(build_table(table_spec(1), RecordSet.load(results)), "md")
    long = {
        (r["row"], r["metric"]): r
        for r in csv.DictReader(io.StringIO(render(built, "csv")))
        if r["source"] == "ours"
    }
    assert float(long["Ours (B = 0.3)", "privacy_cmap"]["chance_normalised"]) == pytest.approx(
        33.18, abs=0.01
    )
    assert long["Ours (B = 0.3)", "action_top1"]["chance_normalised"] == ""


def test_table_chance_reads_the_chance_level_from_the_seeds_data(
    tmp_path: Path, cache_dir: Path
) -> None:
    from bench.contract.dataset import DATASETS
    from bench.reports.chance import chance_cmap

    root = tmp_path / "results"
    store_record(root, "raw", (0.90, 0.80, 0.70), seed=0)
    store_record(root, "downsample", (0.50, 0.60, 0.30), params={"factor": 2}, seed=0)
    chance = chance_cmap(DATASETS.get("synthetic")().load_cached("known", cache_dir, run_seed=0))
    assert 0 < chance < 60
    code, out = bench(
        "table", "1", "--chance", "--results-dir", str(root), "--cache-dir", str(cache_dir)
    )
    assert code == 0, out
    expected = 100 * (60 - chance) / (80 - chance)
    assert f"(↓ 20.00) [c {expected:.1f}]" in out
