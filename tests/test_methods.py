"""The baseline methods: their transforms, their parameter validation, and each one end to end."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from bench import api
from bench.contract.config import PRESETS, resolve_preset
from bench.contract.context import RunContext, make_progress
from bench.contract.dataset import DATASETS, to_float_clip
from bench.contract.errors import BenchError
from bench.contract.frames import REGION_ACTION, REGION_BODY
from bench.contract.method import METHODS
from bench.methods.vita import SupervisedEnsembleBudget, adversary_per_sample
from bench.models.action import build_action_model
from bench.training.anonymize_splits import anonymize_images, mask_clips
from bench.training.budget import SelfSupervisedBudget
from bench.training.game import MinimaxTrainer, Utility, build_aux_action_model
from bench.training.identity import build_anonymizer
from bench.training.recipes import make_optimizer
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


def tiny_context(tmp_path: Path, cache_dir: Path) -> RunContext:
    """A quiet CPU context of the tiny preset."""
    console = Console(quiet=True)
    return RunContext(
        PRESETS["tiny"], torch.device("cpu"), 0, cache_dir, tmp_path, console,
        make_progress(console),
    )  # fmt: skip


def test_blackening_uses_the_renderers_masks_of_every_person(
    tmp_path: Path, cache_dir: Path
) -> None:
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    ctx = tiny_context(tmp_path, cache_dir)
    images = data.privacy.splits.val
    anon = anonymize_images(make("blackening", margin=0), images, ctx)
    out = torch.stack([anon.image(i) for i in range(len(anon))])
    raw = torch.stack([images.image(i) for i in range(len(images))])
    masks = images.person_masks.bool()
    assert masks.flatten(1).any(1).all()  # everyone is masked somewhere
    assert (out[masks] == 0).all()
    assert torch.equal(out[~masks], raw[~masks])
    bag = images.targets[:, data.privacy.attributes.index("bag")].bool()
    area = masks.flatten(1).sum(1).float()
    assert area[bag].mean() > area[~bag].mean() + 3  # a carried bag counts


def test_oracle_keeps_the_action_pixels_and_flattens_the_rest(
    tmp_path: Path, cache_dir: Path
) -> None:
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    oracle = make("oracle")
    oracle.fit(data, tiny_context(tmp_path, cache_dir))
    test = data.action.splits.test
    clips = torch.stack([to_float_clip(test.videos.read(i), 32) for i in range(4)])
    masks = mask_clips(test.person_masks[:4], 32)
    out = oracle.anonymize(clips, masks)
    action, body = (
        (masks == REGION_ACTION).expand_as(clips),
        (masks == REGION_BODY).expand_as(clips),
    )
    assert action.any() and torch.equal(out[action], clips[action])
    assert (out[body] == 0.25).all() and (out[~(action | body)] == 0.5).all()
    assert METHODS.get("oracle").reference and not METHODS.get("raw").reference


def test_oracle_refuses_data_without_region_labels(tmp_path: Path, cache_dir: Path) -> None:
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    unlabelled = dataclasses.replace(
        data.action.splits, train=dataclasses.replace(data.action.splits.train, person_masks=None)
    )
    data = dataclasses.replace(data, action=dataclasses.replace(data.action, splits=unlabelled))
    with pytest.raises(BenchError, match="synthetic only"):
        make("oracle").fit(data, tiny_context(tmp_path, cache_dir))
    with pytest.raises(BenchError, match="region masks"):
        make("oracle").anonymize(torch.rand(1, 3, 2, 8, 8), None)


@pytest.mark.parametrize("pairs", ["views", "frames"])
def test_step_one_freezes_ft_and_fb_in_eval_mode(
    tmp_path: Path, cache_dir: Path, pairs: str
) -> None:
    """The frozen models' BatchNorm statistics do not move while fA learns, and they are
    back in train mode, with gradients, for step 2."""
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    ctx = tiny_context(tmp_path, cache_dir)
    branch = SelfSupervisedBudget(0.1, pairs)
    branch.setup(ctx, data)
    trainer = MinimaxTrainer(ctx, branch)
    fa = build_anonymizer(ctx.preset)
    ft = build_action_model("tiny", len(data.action.classes))
    utility = Utility(ft, ft, make_optimizer(ft, 1e-3, 0.0))
    clips = torch.rand(4, 3, 8, 32, 32)
    labels = torch.arange(4)

    def stats() -> list[torch.Tensor]:
        return [b.clone() for m in (ft, branch.fb) for n, b in m.named_buffers() if "running" in n]

    before = stats()
    row = trainer._update_anonymizer(
        fa, make_optimizer(fa, 1e-3, 0.0), utility, clips, labels, branch.sample(clips)
    )
    assert all(torch.equal(a, b) for a, b in zip(before, stats(), strict=True))
    assert ft.training and branch.fb.training
    assert all(p.requires_grad for p in [*ft.parameters(), *branch.fb.parameters()])
    assert set(row) >= {"loss_a", "adversary", "rms"}


def test_missing_aux_checkpoint_is_an_error_never_a_silent_scratch(
    tmp_path: Path, cache_dir: Path
) -> None:
    """The run stops before it starts (`settle_aux_inits`); were the file to vanish after
    that, building the model names it instead of training from scratch under its key."""
    ctx = dataclasses.replace(
        tiny_context(tmp_path, cache_dir),
        preset=resolve_preset("tiny", {"aux_ft_arch": "r2plus1d_18", "aux_ft_init": "kinetics400"}),
    )
    with pytest.raises(BenchError, match="r2plus1d_18-91a641e6.pth"):
        build_aux_action_model(ctx, 6)
    with pytest.raises(BenchError, match="unknown initialisation"):
        resolve_preset("tiny", {"aux_fb_init": "kinetics400"})


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


@pytest.mark.parametrize("kind", ["entropy", "uniform"])
def test_vita_budget_loss_is_smallest_when_the_budget_model_is_unsure(kind: str) -> None:
    def loss(value: float) -> torch.Tensor:
        return adversary_per_sample(torch.full((4, 7), value), kind)

    log2 = torch.log(torch.tensor(2.0)).item()
    assert loss(0.0) == pytest.approx(torch.full((4,), -log2 if kind == "entropy" else log2))
    assert (loss(3.0) > loss(0.0)).all() and (loss(-3.0) > loss(0.0)).all()
    if kind == "entropy":  # saturates: a confident model gives no gradient
        assert loss(40.0).max().item() == pytest.approx(0.0, abs=1e-6)
    else:  # non-saturating: keeps growing
        assert loss(40.0).min().item() == pytest.approx(20.0, rel=1e-4)


def test_vita_takes_the_worst_budget_model_per_sample() -> None:
    """Each sample is judged by the model most confident about it, then samples are averaged."""
    branch = SupervisedEnsembleBudget(2, 0, 1, "uniform", "action")
    branch.models = [ConstantLogits([[40.0], [0.0]]), ConstantLogits([[0.0], [40.0]])]
    frames = torch.zeros(2, 3, 1, 4, 4)  # two clips of one frame each
    per_sample_max = branch.adversary(None, None, frames)  # type: ignore[arg-type]
    assert per_sample_max.item() == pytest.approx(
        20.0, rel=1e-3
    )  # each sample: softplus(40) - 20; a batch-mean max would give about 10.35


class ConstantLogits(nn.Module):
    """A stand-in budget model that returns fixed logits."""

    def __init__(self, logits: list[list[float]]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.logits


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
        (
            [
                "--method",
                "vita",
                "--n_budget",
                "2",
                "--restart_every",
                "1",
                "--adversary_on",
                "private",
                "--adversary_loss",
                "uniform",
            ],
            {"n_budget": 2, "adversary_on": "private", "budget_steps": 2},
        ),  # fmt: skip
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
    penalty_rows = by_method["penalty"]["history"]["minimax"]
    assert all("hinge_active" in row for row in penalty_rows)  # penalty logs its hinge
    assert by_method["spact"]["history"]["minimax"] == [
        {k: v for k, v in row.items() if k != "hinge_active"} for row in penalty_rows
    ]


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
    # without the plug-in (a new process) its records cannot be placed: said, with the count
    alone = subprocess.run(
        [sys.executable, "-m", "bench.cli", "table", "1", "--results-dir", str(results)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=False,
    )  # fmt: skip
    assert alone.returncode == 0 and "| pixelate" not in alone.stdout
    assert "1 record of methods not registered here left out: pixelate (1)" in alone.stderr
    code, out = bench("figure", "pareto", "--plugin", str(plugin), "--results-dir", str(results))
    assert code == 0 and "not registered" not in out, out


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


def test_released_recipes_name_their_optimisers_rates_and_schedule() -> None:
    from bench.contract.config import PRESETS
    from bench.training.recipes import recipe_of

    tiny, net = PRESETS["tiny"], torch.nn.Linear(2, 2)
    paper = recipe_of("penalty", "paper")
    released = recipe_of("penalty", "released")
    assert isinstance(paper.utility_optimizer(net, tiny), torch.optim.AdamW)
    assert (
        not paper.alternate
        and paper.anonymizer_optimizer(net, None, tiny).defaults["lr"] == tiny.lr_anon
    )
    opt = released.utility_optimizer(net, tiny)
    assert type(opt) is torch.optim.Adam and opt.defaults["weight_decay"] == 0
    assert released.alternate
    assert released.anonymizer_optimizer(net, None, tiny).defaults["lr"] == 4e-5
    assert released.anonymizer_optimizer(net, 0.01, tiny).defaults["lr"] == 0.01  # --lr wins
    assert recipe_of("spact", "released").lr_anon == 1e-4
    vita = recipe_of("vita", "released")
    assert vita.lr_utility == 1e-5 and not vita.alternate


def test_vita_ones_loss_pushes_every_attribute_score_up() -> None:
    from bench.methods.vita import adversary_per_sample

    low, high = torch.full((1, 3), -2.0), torch.full((1, 3), 2.0)
    assert adversary_per_sample(high, "ones") < adversary_per_sample(low, "ones")
    assert torch.allclose(
        adversary_per_sample(torch.zeros(1, 3), "ones"), torch.tensor([0.6931]), atol=1e-4
    )


def test_unbounded_fa_starts_as_the_identity_and_is_clamped_where_stored() -> None:
    from bench.contract.config import PRESETS
    from bench.training.identity import build_anonymizer

    p = dataclasses.replace(PRESETS["tiny"], anon_output="none")
    fa = build_anonymizer(p).eval()
    clips = torch.rand(1, 3, 2, 32, 32)
    assert torch.equal(fa(clips), clips)  # x + UNet++(x), the head at zero
    torch.nn.init.constant_(fa.net.segmentation_head[0].bias, 0.8)
    assert fa(clips).max() > 1.0  # unbounded, as the released fA
    method = make("spact")
    method.fa = fa
    out = method.anonymize(clips)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_released_recipe_runs_through_known(tmp_path: Path, cache_dir: Path) -> None:
    code, out = bench("run", "--method", "penalty", "--recipe", "released", "--no-reference",
                      "--results-dir", str(tmp_path), "--cache-dir", str(cache_dir), *FAST,
                      "--set", "anon_batch=8", "--set", "anon_output=none")  # fmt: skip
    assert code == 0, out
    (rec,) = records(tmp_path)
    assert rec["params"]["recipe"] == "released"
    assert rec["config"]["preset"]["anon_output"] == "none"
    assert {"loss_t", "loss_b", "loss_a", "probe_cmap"} <= set(rec["history"]["minimax"][0])


@pytest.mark.parametrize("name", ["spact", "penalty", "vita"])
def test_methods_detail_names_each_recipe_difference_and_its_source(name: str) -> None:
    code, out = bench("methods", name)
    flat = " ".join(out.split())
    assert code == 0 and "--recipe" in flat
    assert "train_ssl_minimax2.py" in flat and "adv_training.py" in flat  # sources named
    assert "alternate" in flat and "Adam, no weight decay" in flat


@pytest.mark.parametrize("recipe", ["paper", "released"])
def test_vita_restart_reinitialises_or_restores_the_pretrained_ensemble(
    tmp_path: Path, cache_dir: Path, recipe: str
) -> None:
    from bench.methods.vita import SupervisedEnsembleBudget
    from bench.training.recipes import recipe_of

    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)
    ctx = tiny_context(tmp_path, cache_dir)
    branch = SupervisedEnsembleBudget(2, 1, 1, "ones", "action")
    branch.recipe = recipe_of("vita", recipe)
    branch.setup(ctx, data)
    branch.begin_game()  # after pretraining: what the released code's checkpoint holds
    pretrained = [{k: v.clone() for k, v in m.state_dict().items()} for m in branch.models]
    for model in branch.models:  # the game moves them
        torch.nn.init.constant_(next(model.parameters()), 0.123)
    branch.pretrain = lambda *args: [0.0]  # type: ignore[method-assign]  (no retraining here)
    branch.end_epoch(build_anonymizer(ctx.preset), 0)
    restored = all(
        torch.equal(m.state_dict()[k], saved[k])
        for m, saved in zip(branch.models, pretrained, strict=True)
        for k in saved
    )
    assert restored is (recipe == "released")
    assert all(
        not torch.equal(next(m.parameters()), torch.full_like(next(m.parameters()), 0.123))
        for m in branch.models
    )  # fresh or restored, never the game's weights
    assert (branch.state_dict()["snapshot"] is not None) is (recipe == "released")
