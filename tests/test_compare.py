"""`bench compare`: the cells a new method needs, their estimates, and where it stands."""

from __future__ import annotations

from pathlib import Path

import bench
from bench.orchestration.runner import new_record
from bench.reports.standing import dominates, hypervolume
from bench.store.results import ResultsStore
from tests.conftest import make_record
from tests.test_cli import bench as cli

POSTERIZE = '''
from typing import ClassVar

import torch

from bench.contract.method import METHODS, Method, Param


@METHODS.register("posterize")
class Posterize(Method):
    """Every colour channel quantised to `levels` values."""

    description = "posterize: each colour channel quantised to a few levels"
    params: ClassVar[dict[str, Param]] = {"levels": Param(4, "levels per channel", minimum=2, maximum=256)}

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        n = self.values["levels"] - 1
        return torch.round(clips * n) / n
'''
INVERSION = {"privacy_f1": 0.5, "anonymized_privacy_cmap": 0.6, "anonymized_privacy_f1": 0.4,
             "raw_privacy_cmap": 0.85, "raw_privacy_f1": 0.6, "reconstruction_ssim": 0.9,
             "anonymized_psnr": 25.0, "anonymized_ssim": 0.7}  # fmt: skip


def test_hypervolume_and_dominance() -> None:
    """The area a front dominates from the reference corner, each rectangle counted once."""
    assert hypervolume([(50, 80)], (90, 0)) == 40 * 80
    assert hypervolume([(50, 80), (70, 90)], (90, 0)) == 20 * 80 + 20 * 90
    assert hypervolume([(50, 80), (60, 70)], (90, 0)) == 40 * 80  # the second adds nothing
    assert hypervolume([(95, 99)], (90, 0)) == 0  # leaks more than the reference
    assert dominates((50, 80), (60, 70)) and not dominates((50, 80), (40, 90))
    assert not dominates((50, 80), (50, 80))


def test_compare_lists_missing_cells_then_says_where_the_method_stands(tmp_path: Path) -> None:
    """--dry-run lists the 18 cells (3 protocols x 3 seeds, with raw) and estimates the missing
    ones from stored runs; with every cell stored, the method's row is printed beside the
    others with what it dominates, what dominates it, and each method's hypervolume."""
    plugin = tmp_path / "posterize.py"
    plugin.write_text(POSTERIZE)
    results = tmp_path / "results"
    store = ResultsStore(results)
    for seed in (0, 1, 2):
        store.save(make_record("raw", top1=0.95, cmap=0.88, seed=seed))
        store.save(make_record("blur", {"strength": "weak"}, top1=0.78, cmap=0.83, seed=seed))
        store.save(make_record("penalty", {"B": 0.3}, top1=0.8, cmap=0.7, seed=seed))
    args = ["compare", "--method", "posterize", "--plugin", str(plugin), "--levels", "3",
            "--results-dir", str(results)]  # fmt: skip
    code, out = cli(*args, "--dry-run")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "3 done, 15 to run" in flat
    assert "posterize levels=3 inversion synthetic tiny seed=2" in flat
    for seed in (0, 1, 2):  # now every cell is stored: nothing runs
        cfg = bench.config("posterize", plugins=[plugin], seed=seed, levels=3)
        store.save(new_record(cfg, {"action_top1": 0.85, "privacy_cmap": 0.8, "privacy_f1": 0.6}))
        for name, params in (("raw", {}), ("posterize", {"levels": 3})):
            for protocol in ("novel", "inversion"):
                cfg = bench.config(name, protocol=protocol, seed=seed, **params)
                metrics = (
                    {"privacy_cmap": 0.7, "reconstruction_psnr": 28.0, **INVERSION}
                    if protocol == "inversion"
                    else {"action_top1": 0.8, "privacy_cmap": 0.75, "privacy_f1": 0.6}
                )
                store.save(new_record(cfg, metrics))
    code, out = cli(*args)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "18 done, 0 to run" in flat
    assert "posterize (levels=3) dominates: blur (strength=weak)" in flat
    assert "posterize (levels=3) is dominated by: none" in flat
    # against raw's corner (cMAP 88, top-1 0): penalty 18 x 80, posterize 8 x 85, blur 5 x 78
    assert "penalty: 1440.0" in flat and "posterize: 680.0" in flat and "blur: 390.0" in flat
    assert "cMAP 60.00 on fA*(test), 70.00 after the inversion attack" in flat


def test_compare_names_the_preset_overrides(tmp_path: Path) -> None:
    """Cells and pages run with `--set` say so ('tiny[precision=fp32]'), in the cell list and
    in each page's title, never printed as plain 'tiny' (rich would read '[...]' as markup)."""
    store = ResultsStore(tmp_path)
    fp32 = {"precision": "fp32"}
    for seed in (0, 1, 2):
        for name, params in (("raw", {}), ("blur", {"strength": "weak"})):
            for protocol in ("known", "novel", "inversion"):
                cfg = bench.config(name, protocol=protocol, seed=seed, settings=fp32, **params)
                metrics = (
                    {"privacy_cmap": 0.7, "reconstruction_psnr": 28.0, **INVERSION}
                    if protocol == "inversion"
                    else {"action_top1": 0.8, "privacy_cmap": 0.75, "privacy_f1": 0.6}
                )
                store.save(new_record(cfg, metrics))
    code, out = cli("compare", "--method", "blur", "--strength", "weak", "--set",
                    "precision=fp32", "--results-dir", str(tmp_path))  # fmt: skip
    assert code == 0, out
    flat = " ".join(out.split())
    assert "18 done, 0 to run" in flat
    assert "blur strength=weak inversion synthetic tiny[precision=fp32] seed=2" in flat
    assert "synthetic / known / tiny[precision=fp32]" in flat
