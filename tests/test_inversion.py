"""The inversion attack (`--protocol inversion`, Table 9): a white-box attacker learns g to
undo fA*, and a raw-trained fB' attacks the reconstructions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench
from bench.contract.config import ATTACK_KEYS
from bench.orchestration.runner import new_record
from bench.store.results import ResultsStore
from tests.test_cli import bench as cli

PERMUTE = '''
import torch

from bench.contract.method import METHODS, Method


@METHODS.register("permute")
class Permute(Method):
    """RGB -> 1 - BRG: every pixel kept, nothing hidden from whoever learns the map."""

    description = "colour channels permuted and inverted (trivially invertible)"

    def anonymize(self, clips: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        return 1 - clips[:, [2, 0, 1]]
'''
SMALL = ["--set", "frame_size=16", "--set", "privacy_epochs=6", "--set", "inversion_epochs=15"]


def test_inversion_undoes_a_known_invertible_method(tmp_path: Path, cache_dir: Path) -> None:
    """A colour permutation hides attributes from fB' trained on raw images, and the attack's
    g undoes it: the reconstructions' cMAP is back near raw, their PSNR far above fA*(test)'s.
    g is stored once and reused by a cell with another fB' (here: trained for one epoch)."""
    plugin = tmp_path / "permute.py"
    plugin.write_text(PERMUTE)
    results = tmp_path / "results"
    args = ["run", "--plugin", str(plugin), "--method", "permute", "--protocol", "inversion",
            "--no-reference", "--results-dir", str(results), "--cache-dir", str(cache_dir), *SMALL]  # fmt: skip
    code, out = cli(*args)
    assert code == 0, out
    [path] = (results / "records").glob("*.json")
    m = json.loads(path.read_text())["metrics"]
    assert m["anonymized_privacy_cmap"] < m["raw_privacy_cmap"] - 0.1  # it hides something
    assert abs(m["privacy_cmap"] - m["raw_privacy_cmap"]) < 0.05  # which g gives back
    assert m["reconstruction_psnr"] > m["anonymized_psnr"] + 10
    assert m["reconstruction_ssim"] > m["anonymized_ssim"]
    [stored] = (results / "attacks").glob("*/inverter.pt")
    code, out = cli(*args, "--set", "privacy_epochs=1")
    assert code == 0, out
    [again] = [r for p in (results / "records").glob("*.json") if p != path
               for r in [json.loads(p.read_text())]]  # fmt: skip
    assert again["notes"]["inverter"] == f"g reused from attacks/{stored.parent.name}"
    # the same g (its stored weights; channels-last training vs a fresh module: float noise)
    assert again["metrics"]["reconstruction_psnr"] == pytest.approx(m["reconstruction_psnr"], 1e-4)
    assert "g (inversion)" in again["history"]


def test_attack_settings_key_only_the_attack_cells() -> None:
    """The inversion network's settings are in the keys of inversion cells only (every other
    record keeps its key); g's own key ignores the evaluation models, so every fB' shares it."""
    known = bench.config("penalty", protocol="known", B=0.3)
    attacked = bench.config("penalty", protocol="inversion", B=0.3)
    assert not set(ATTACK_KEYS) & set(known.canonical()["preset"])
    assert set(ATTACK_KEYS) <= set(attacked.canonical()["preset"])
    assert known.fit_key() == attacked.fit_key()  # one fA* for both
    other_fb = bench.config("penalty", protocol="inversion", B=0.3, fb_arch="resnet18")
    assert other_fb.key() != attacked.key() and other_fb.attack_key() == attacked.attack_key()
    changed = bench.config("penalty", protocol="inversion", B=0.3, settings={"inversion_width": 8})
    assert changed.attack_key() != attacked.attack_key()


def test_table_9_shows_the_attack(tmp_path: Path) -> None:
    """Table 9 reads the inversion records: cMAP before and after inversion, PSNR in dB and
    SSIM; it is privbench's own, so --paper adds no published column and says why. Privacy
    cells show their drop from raw; reconstruction quality does not (raw's is g on raw)."""
    store = ResultsStore(tmp_path)
    for seed, psnr in ((0, 31.5), (1, 32.5)):
        for method, params, cmap, rebuilt in (("blur", {"strength": "weak"}, 0.8, psnr),
                                              ("raw", {}, 0.85, 59.9)):  # fmt: skip
            cfg = bench.config(method, protocol="inversion", seed=seed, **params)
            metrics = {"privacy_cmap": cmap, "privacy_f1": 0.5, "anonymized_privacy_cmap": 0.6,
                       "anonymized_privacy_f1": 0.4, "raw_privacy_cmap": 0.85,
                       "raw_privacy_f1": 0.6, "reconstruction_psnr": rebuilt,
                       "reconstruction_ssim": 0.9, "anonymized_psnr": 25.0,
                       "anonymized_ssim": 0.7}  # fmt: skip
            store.save(new_record(cfg, metrics))
    for extra in ([], ["--paper"]):
        code, out = cli("table", "9", "--results-dir", str(tmp_path), *extra)
        assert code == 0, out
        assert "PSNR (dB, ↓)" in out and "cMAP after inversion (↓%)" in out
        row = next(line for line in out.splitlines() if line.startswith("| Obf-WeakBlur"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2:] == ["80.00 ± 0.00 (↓ 5.00)", "32.00 ± 0.71", "0.900 ± 0.000"], row
        assert "privbench's own table" in out and "paper VISPR1" not in out
    code, out = cli("figure", "inversion", "--results-dir", str(tmp_path), "--out", str(tmp_path))
    assert code == 0 and (tmp_path / "inversion-inversion.png").stat().st_size > 0, out
