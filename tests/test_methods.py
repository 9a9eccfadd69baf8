"""The baseline methods: their transforms, their parameter validation, and each one end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from bench.methods.vita import negative_entropy
from rich.console import Console

from bench import api
from bench.contract.config import PRESETS
from bench.contract.context import RunContext, make_progress
from bench.contract.dataset import DATASETS
from bench.contract.method import METHODS
from bench.engine.anonymize import anonymize_images
from tests.conftest import FAST
from tests.test_cli import bench, records

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "pixelate.py"


def checkerboard(size: int = 32, period: int = 1) -> torch.Tensor:
    """(1, 3, 2, size, size) clip of 0/1 squares of side `period`."""
    idx = torch.arange(size) // period
    board = ((idx[:, None] + idx[None, :]) % 2).float()
    return board.expand(1, 3, 2, size, size).clone()


def person_box(size: int = 32) -> torch.Tensor:
    """(1, 1, 2, size, size) mask: a square 'person' in rows / cols 10..19."""
    mask = torch.zeros(1, 1, 2, size, size)
    mask[..., 10:20, 10:20] = 1
    return mask


def make(name: str, **params: object):
    return METHODS.get(name)(**params)


def test_downsample_averages_away_detail_finer_than_the_factor() -> None:
    flat = torch.full((1, 3, 2, 32, 32), 0.7)
    assert torch.allclose(make("downsample", factor=4).anonymize(flat), flat)
    fine = make("downsample", factor=2).anonymize(checkerboard(period=1))
    assert torch.allclose(fine, torch.full_like(fine, 0.5), atol=1e-6)
    coarse = checkerboard(period=2)
    assert make("downsample", factor=2).anonymize(coarse).std() > 0.1  # survives 2x
    assert torch.allclose(make("downsample", factor=4).anonymize(coarse), torch.tensor(0.5))


def test_blackening_blacks_out_the_grown_person_region_only() -> None:
    clips = torch.rand(1, 3, 2, 32, 32) * 0.5 + 0.5
    out = make("blackening", margin=1).anonymize(clips, person_box())
    assert out[..., 9:21, 9:21].abs().max() == 0  # mask plus a 1-px margin
    assert torch.equal(out[..., :8, :], clips[..., :8, :])
    assert make("blackening").anonymize(clips, None).abs().max() == 0  # whole-frame fallback


def test_blackening_uses_the_renderers_masks_of_every_person(
    tmp_path: Path, cache_dir: Path
) -> None:
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    console = Console(quiet=True)
    ctx = RunContext(
        PRESETS["tiny"],
        torch.device("cpu"),
        0,
        cache_dir,
        tmp_path,
        console,
        make_progress(console),
    )
    images = data.privacy.splits.val
    anon = anonymize_images(make("blackening", margin=0), images, ctx)
    out = torch.stack([anon.image(i) for i in range(len(anon))])
    raw = torch.stack([images.image(i) for i in range(len(images))])
    masks = images.person_masks.bool()
    assert masks.flatten(1).any(1).all()  # everyone is masked somewhere
    assert (out[masks] == 0).all()
    assert torch.equal(out[~masks], raw[~masks])
    companion = images.targets[:, data.privacy.attributes.index("companion")].bool()
    area = masks.flatten(1).sum(1).float()
    assert area[companion].mean() > area[~companion].mean() + 30  # the second person counts


def test_blur_strength_and_region() -> None:
    board = checkerboard(period=2)
    strong = make("blur", strength="strong", region="frame").anonymize(board)
    weak = make("blur", strength="weak", region="frame").anonymize(board)
    assert strong.std() < weak.std() < board.std()
    inside = make("blur", region="person", margin=0).anonymize(board, person_box())
    assert torch.equal(inside[..., :10, :], board[..., :10, :])  # outside the person: intact
    assert inside[..., 12:18, 12:18].std() < 0.5 * board[..., 12:18, 12:18].std()
    assert make("blur").sigma_kernel(32) == (2.0, 13)
    assert make("blur", sigma=1.5, kernel=5).sigma_kernel(224) == (1.5, 5)


def test_vita_budget_loss_is_smallest_when_the_budget_model_is_unsure() -> None:
    unsure = negative_entropy(torch.zeros(4, 7))
    assert unsure.item() == pytest.approx(-torch.log(torch.tensor(2.0)).item())
    assert negative_entropy(torch.full((4, 7), 3.0)) > unsure
    assert negative_entropy(torch.full((4, 7), -3.0)) > unsure
    assert negative_entropy(torch.full((4, 7), 40.0)).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "downsample", "--factor", "3"], "--factor=3: must be one of 2, 4"),
        (["--method", "downsample", "--factor", "two"], "--factor=two: expected int"),
        (["--method", "blur", "--sigma", "-1"], "--sigma=-1: must be > 0"),
        (["--method", "blur", "--kernel", "4"], "--kernel=4: must be odd"),
        (["--method", "blur", "--sigma", "40"], "too large for 32px frames"),
        (["--method", "blur", "--strength", "medium"], "must be one of strong, weak"),
        (["--method", "blur", "--strength"], "--strength: expected a value"),
        (["--method", "blur", "--nope", "1"], "has no parameter 'nope'"),
        (["--method", "penalty", "--B", "nan"], "--B=nan: must be a finite number"),
        (["--method", "vita", "--n-budget", "0"], "--n_budget=0: must be >= 1"),
        (["--method", "blackening", "--margin", "-2"], "--margin=-2: must be >= 0"),
    ],
)
def test_bad_method_parameter_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = bench("run", *args, "--results-dir", str(tmp_path / "r"))
    assert code == 2 and message in out, out
    assert "Traceback" not in out and not (tmp_path / "r").exists()


def test_fixed_methods_key_ignores_anonymizer_training_settings() -> None:
    def key(method: str, epochs: str) -> str:
        return api.config(method, settings={"anon_epochs": epochs}).key()

    assert key("raw", "3") == key("raw", "24")
    assert key("blur", "3") == key("blur", "24")
    assert key("spact", "3") != key("spact", "24")
    assert PRESETS["tiny"].anon_epochs not in (3, 24)


def test_methods_lists_every_baseline_with_parameters() -> None:
    code, out = bench("methods")
    assert code == 0
    for name in ("raw", "downsample", "blackening", "blur", "vita", "spact", "penalty"):
        assert name in out
    code, out = bench("methods", "vita")
    assert code == 0 and "--n_budget" in out and "TPAMI 2020" in out


@pytest.mark.parametrize(
    ("args", "checks"),
    [
        (["--method", "downsample", "--factor", "4"], {"factor": 4}),
        (["--method", "blackening"], {"margin": 1}),
        (["--method", "blur", "--strength", "weak"], {"strength": "weak", "sigma": None}),
        (["--method", "vita", "--n_budget", "2", "--restart_every", "1"], {"n_budget": 2}),
    ],
)
def test_method_runs_through_known(
    tmp_path: Path, cache_dir: Path, args: list[str], checks: dict
) -> None:
    code, out = bench("run", *args, "--no-reference", "--results-dir", str(tmp_path),
                      "--cache-dir", str(cache_dir), *FAST)  # fmt: skip
    assert code == 0, out
    [rec] = records(tmp_path)
    assert rec["method"] == args[1] and rec["protocol"] == "known"
    assert checks.items() <= rec["params"].items()
    assert all(0.0 <= v <= 1.0 for v in rec["metrics"].values())
    if args[1] in ("blackening", "blur"):
        assert rec["notes"]["region"] == "person masks"
    if args[1] == "vita":
        assert (tmp_path / "fits" / rec["fit_key"] / "anonymizer.pt").is_file()
        assert len(rec["history"]["minimax"]) == 1


def test_penalty_without_penalty_is_spact(tmp_path: Path, cache_dir: Path) -> None:
    """lambda = 0 removes the only difference: the same seed gives the same result."""
    common = ["--no-reference", "--results-dir", str(tmp_path), "--cache-dir", str(cache_dir)]
    assert bench("run", "--method", "spact", *common, *FAST)[0] == 0
    assert bench("run", "--method", "penalty", "--lam", "0", *common, *FAST)[0] == 0
    by_method = {r["method"]: r for r in records(tmp_path)}
    assert by_method["spact"]["metrics"] == by_method["penalty"]["metrics"]
    assert by_method["spact"]["history"]["minimax"] == by_method["penalty"]["history"]["minimax"]


def test_plugin_file_outside_the_tree_runs_through_known(tmp_path: Path, cache_dir: Path) -> None:
    plugin = tmp_path / "elsewhere" / "my_pixelate.py"
    plugin.parent.mkdir()
    shutil.copy(EXAMPLE, plugin)
    code, out = bench("methods", "--plugin", str(plugin))
    assert code == 0 and "pixelate" in out and "block=4" in out
    results = tmp_path / "results"
    code, out = bench("run", "--plugin", str(plugin), "--method", "pixelate", "--block", "8",
                      "--results-dir", str(results), "--cache-dir", str(cache_dir), *FAST)  # fmt: skip
    assert code == 0, out
    rec = next(r for r in records(results) if r["method"] == "pixelate")
    assert rec["params"] == {"block": 8}
    assert len(rec["config"]["plugin_source"]) == 64
    assert str(plugin) in rec["provenance"]["plugins"]
    assert 0.0 <= rec["metrics"]["privacy_cmap"] <= 1.0
    # the new method joins the paper's tables as its own row, beside raw and the drop from it
    code, out = bench("table", "1", "--plugin", str(plugin), "--results-dir", str(results))
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("| pixelate (block=8) "))
    assert f"{100 * rec['metrics']['privacy_cmap']:.2f} (↓ " in row


def test_guide_shows_the_example_plugin_verbatim() -> None:
    guide = (REPO / "docs" / "adding-a-method.md").read_text()
    assert EXAMPLE.read_text() in guide


def test_bad_plugin_is_one_line(tmp_path: Path) -> None:
    code, out = bench("methods", "--plugin", str(tmp_path / "missing.py"))
    assert code == 2 and "no such Python file" in out
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    code, out = bench("methods", "--plugin", str(broken))
    assert code == 2 and "importing it failed: RuntimeError: boom" in out
    clash = tmp_path / "clash.py"
    clash.write_text(
        "from bench.contract.method import METHODS, Method\n"
        "@METHODS.register('raw')\nclass Raw2(Method):\n    pass\n"
    )
    code, out = bench("methods", "--plugin", str(clash))
    assert code == 2 and "both named 'raw'" in out
