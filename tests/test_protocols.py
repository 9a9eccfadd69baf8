"""The novel and pretrained-attack protocols, fA* reuse, and fT' / fB' choices (short schedules)."""

import json
from pathlib import Path

import pytest
import torch
from torchvision.models import video as tv_video

from bench.contract.errors import BenchError
from bench.data import sample_trees as fx
from bench.models.action import build_action_model
from bench.models.privacy import build_backbone
from tests.conftest import FAST
from tests.test_cli import bench, records


def run(results: Path, cache_dir: Path, *args: str, size: int = 16, after: tuple = ()) -> dict:
    """`bench run ARGS` without the raw reference (`after`: options over FAST's); the one
    record it wrote."""
    before = {p.name for p in (results / "records").glob("*.json")}
    code, out = bench("run", *args, "--no-reference", "--results-dir", str(results),
                      "--cache-dir", str(cache_dir), *FAST, "--set", f"frame_size={size}",
                      *after)  # fmt: skip
    assert code == 0, out
    [new] = [p for p in (results / "records").glob("*.json") if p.name not in before]
    return json.loads(new.read_text())


@pytest.mark.slow  # 30 s; the fit's reuse across protocols is also in test_faults
def test_novel_reuses_the_fit_and_matches_a_fresh_fit(tmp_path: Path, cache_dir: Path) -> None:
    """fA* is trained once per fit key; evaluation is the same whether it was reused or not."""
    penalty = ["--method", "penalty", "--B", "0.5"]
    fresh = run(tmp_path / "a", cache_dir, *penalty, "--protocol", "novel")
    attack = run(tmp_path / "b", cache_dir, *penalty, "--protocol", "pretrained-attack")
    reused = run(tmp_path / "b", cache_dir, *penalty, "--protocol", "novel")

    assert fresh["protocol"] == "novel" and "anonymizer" not in fresh["notes"]
    assert "minimax" in fresh["timings"] and "minimax" not in reused["timings"]
    assert reused["fit_key"] == attack["fit_key"] == fresh["fit_key"]
    assert reused["notes"]["anonymizer"].startswith(f"fA* reused from {attack['fit_key']}")
    assert reused["history"]["minimax"] == fresh["history"]["minimax"]
    assert reused["metrics"] == fresh["metrics"]
    assert set(fresh["metrics"]) == {"action_top1", "privacy_cmap", "privacy_f1"}


def test_pretrained_attack_scores_raw_and_anonymized_test(tmp_path: Path, cache_dir: Path) -> None:
    # at the synthetic set's own 32 px: at another size the raw test images are resized in
    # float while anonymized ones (raw's too) are stored as uint8 after the resize, so raw's
    # privacy_cmap and raw_privacy_cmap differ by rounding (0.56382 vs 0.56373 at 16 px)
    raw = run(tmp_path, cache_dir, "--method", "raw", "--protocol", "pretrained-attack", size=32)
    assert set(raw["metrics"]) == {
        "privacy_cmap", "privacy_f1", "raw_privacy_cmap", "raw_privacy_f1"
    }  # fmt: skip
    assert raw["metrics"]["privacy_cmap"] == raw["metrics"]["raw_privacy_cmap"]
    black = run(tmp_path, cache_dir, "--method", "blackening", "--protocol",
                "pretrained-attack-novel", size=32)  # fmt: skip
    assert black["protocol"] == "pretrained-attack-novel"
    assert black["notes"]["region"] == "person masks"  # fixed methods see the attacked data
    # the attacker is trained on raw images either way: only the scored images differ
    code, out = bench("run", "--method", "raw", "--protocol", "pretrained-attack-novel",
                      "--no-reference", "--results-dir", str(tmp_path),
                      "--cache-dir", str(cache_dir), *FAST, "--set", "frame_size=32")  # fmt: skip
    assert code == 0 and "cMAP on raw images" in out
    raw_novel = next(
        r for r in records(tmp_path)
        if r["protocol"] == "pretrained-attack-novel" and r["method"] == "raw"
    )  # fmt: skip
    assert black["metrics"]["raw_privacy_cmap"] == raw_novel["metrics"]["raw_privacy_cmap"]


def test_protocol_needing_a_missing_setting_fails_before_work(tmp_path: Path) -> None:
    common = ["--results-dir", str(tmp_path / "res"), "--protocol", "novel"]
    code, out = bench("run", "--dataset", "hmdb51-pahmdb", "--data-root", f"hmdb51={tmp_path}",
                      "--data-root", f"vispr={tmp_path}", *common)  # fmt: skip
    assert code == 2 and "has no 'novel' setting" in out
    code, out = bench("run", "--dataset", "ucf101-vispr1", "--data-root", f"ucf101={tmp_path}",
                      "--data-root", f"vispr={tmp_path}", *common)  # fmt: skip
    assert code == 2 and "--data-root hmdb51=DIR" in out
    assert not (tmp_path / "res" / "records").exists()


def test_real_novel_setting_is_hmdb51_and_vispr2(tmp_path: Path) -> None:
    hmdb = fx.make_hmdb51(tmp_path / "hmdb51")
    roots = {
        "ucf101": fx.make_ucf101(tmp_path / "ucf101"),
        "hmdb51": hmdb,
        "vispr": fx.make_vispr(tmp_path / "vispr"),
    }
    flags = [arg for k, v in roots.items() for arg in ("--data-root", f"{k}={v}")]
    code, out = bench(
        "run", "--method", "raw", "--dataset", "ucf101-vispr1", "--protocol", "novel",
        *flags, "--no-reference", "--results-dir", str(tmp_path / "res"),
        "--cache-dir", str(tmp_path / "cache"),
        "--set", "action_batch=4", "--set", "privacy_batch=4", *FAST,
    )  # fmt: skip
    assert code == 0, out
    [record] = records(tmp_path / "res")
    assert record["protocol"] == "novel" and 0 <= record["metrics"]["action_top1"] <= 1
    packs = {p.parent.name.rsplit("-", 1)[0] for p in (tmp_path / "cache").rglob("*.json")}
    assert {"hmdb51", "vispr2"} <= packs and "ucf101" not in packs  # raw needs no known set


def test_pretrained_init_without_the_file_names_it_and_where_to_put_it(
    tmp_path: Path, cache_dir: Path
) -> None:
    code, out = bench("run", "--method", "raw", "--ft-arch", "r3d_18", "--ft-init", "kinetics400",
                      "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c"))  # fmt: skip
    assert code == 2
    assert "r3d_18-b3b3357e.pth" in out and str(tmp_path / "c" / "weights") in out
    assert "download.pytorch.org" in out and not (tmp_path / "records").exists()
    code, out = bench("run", "--ft-arch", "c3d", "--ft-init", "kinetics400",
                      "--results-dir", str(tmp_path))  # fmt: skip
    assert code == 2 and "no published Kinetics-400 checkpoint for c3d" in out
    code, out = bench("run", "--fb-arch", "resnet9", "--results-dir", str(tmp_path))
    assert code == 2 and "--fb-arch resnet9: must be one of" in out


def test_pretrained_weights_load_from_the_cache_and_the_head_is_replaced(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    published = tv_video.r3d_18(weights=None)
    torch.save(published.state_dict(), weights / "r3d_18-b3b3357e.pth")
    model = build_action_model("r3d_18", 6, "kinetics400", tmp_path)
    assert torch.equal(model.stem[0].weight, published.stem[0].weight)
    assert model.fc.out_features == 6

    resnet = __import__("torchvision").models.resnet18(weights=None)
    torch.save(resnet.state_dict(), weights / "resnet18-f37072fd.pth")
    backbone, dim = build_backbone("resnet18", "imagenet", tmp_path)
    assert dim == 512 and torch.equal(backbone.conv1.weight, resnet.conv1.weight)

    (weights / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(BenchError, match="cannot be read"):
        build_backbone("resnet18", "imagenet", tmp_path)


def test_i3d_checkpoint_is_read_from_its_model_state_entry(tmp_path: Path) -> None:
    pytest.importorskip("pytorchvideo")
    from pytorchvideo.models.hub.resnet import i3d_r50

    (tmp_path / "weights").mkdir()
    published = i3d_r50(pretrained=False)
    torch.save({"model_state": published.state_dict()}, tmp_path / "weights" / "I3D_8x8_R50.pyth")
    model = build_action_model("i3d_r50", 3, "kinetics400", tmp_path).eval()
    assert model.blocks[6].proj.out_features == 3
    assert model(torch.rand(1, 3, 8, 32, 32)).shape == (1, 3)


def test_fresh_models_stop_when_validation_stalls(tmp_path: Path, cache_dir: Path) -> None:
    """eval_patience ends fT' / fB' after that many epochs without a better val score (the
    best epoch is kept and the record says so); a patience never reached changes nothing."""
    long = ("--set", "action_epochs=10", "--set", "privacy_epochs=10")
    never = run(
        tmp_path / "a", cache_dir, "--method", "raw", after=(*long, "--set", "eval_patience=0")
    )
    unreached = run(
        tmp_path / "b", cache_dir, "--method", "raw", after=(*long, "--set", "eval_patience=10")
    )
    assert unreached["metrics"] == never["metrics"]
    assert unreached["history"] == never["history"]
    assert not any(k.startswith("stopped_early") for k in never["notes"])
    stopped = run(
        tmp_path / "c", cache_dir, "--method", "raw", after=(*long, "--set", "eval_patience=1")
    )
    for stage in ("fT' (action eval)", "fB' (privacy eval)"):
        rows = stopped["history"][stage]
        vals = [r["val"] for r in rows]
        # it ran until the first epoch that did not beat the best before it, then stopped
        assert rows == never["history"][stage][: len(rows)]
        assert len(rows) == 10 or vals[-1] <= max(vals[:-1])
        if len(rows) < 10:
            assert (
                f"stopped after {len(rows)} of at most 10 epochs"
                in stopped["notes"][f"stopped_early:{stage}"]
            )
    assert any(k.startswith("stopped_early") for k in stopped["notes"])


def test_paper_preset_trains_against_i3d_and_names_the_extra_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from bench.contract.config import PRESETS

    assert PRESETS["paper"].aux_ft_arch == "i3d_r50"
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pytorchvideo" else real(name, *a),
    )
    code, out = bench("run", "--method", "penalty", "--preset", "paper", "--set", "skip=1",
                      "--results-dir", str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and "pip install 'privbench[models]'" in out and "Traceback" not in out
    assert not (tmp_path / "r").exists()  # before any work
