"""Region baselines on real data: a real torchvision person detector on fixture videos.

The checkpoints are written by the tests: random weights, with the classifier's bias set so
that every proposal is a person (or none is), which makes the wiring observable without a
download. The synthetic renderer's masks stay the ground truth on the default data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.contract.frames import PersonRegions
from bench.data import sample_trees as fx
from bench.data.catalog import LAYOUTS, ScanOptions
from bench.data.frame_store import PackedFrames
from bench.data.prepare import prepare_split
from bench.models.person_detector import DETECTORS, SCORE_FLOOR, person_boxes, untrained_detector
from bench.training.person_region import BoxMasks, DetectedPeople
from tests.conftest import FAST

runner = CliRunner()
SIZE = 32  # the detector's input side in these tests (its own default is 800)


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _silent(description: str, total: int):  # type: ignore[no-untyped-def]
    return lambda: None


def biased(name: str, people: bool) -> torch.nn.Module:
    """An untrained detector whose box classifier calls every proposal a person, or none."""
    model = untrained_detector(name, SIZE)
    score = model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        score.weight.zero_()
        score.bias.zero_()
        score.bias[1] = 10.0 if people else -10.0
    return model.eval()


def write_checkpoint(cache: Path, name: str, people: bool) -> Path:
    """The detector's checkpoint where the weights mechanism looks: <cache>/weights/<file>."""
    path = cache / "weights" / DETECTORS[name].weights.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(biased(name, people).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small UCF101 and VISPR tree (few frames: the detector runs on every one)."""
    base = tmp_path_factory.mktemp("small")
    ucf = fx.make_ucf101(
        base / "ucf101", classes=("Archery", "Basketball"), groups=3, clips=1, frames=8
    )
    vispr = fx.make_vispr(base / "vispr", per_split={"train2017": 4, "val2017": 2, "test2017": 2})
    return {"ucf101": ucf, "vispr": vispr}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_detector_gives_person_boxes(name: str) -> None:
    """Boxes come back in the frames' own pixels, though the detector resizes them to SIZE."""
    side = SIZE // 2
    frames = torch.from_numpy(fx.synthetic_frames(0, 2, side, side))
    boxes = person_boxes(biased(name, people=True), frames)
    assert len(boxes) == 2
    for found in boxes:
        assert found.ndim == 2 and found.shape[1] == 5 and len(found) > 0
        assert (found[:, 0] >= SCORE_FLOOR).all() and (found[:, 0] <= 1).all()
        assert (found[:, 1:] >= 0).all() and (found[:, 1:] <= side).all()
        assert found[:, 3].max() > side / 2  # spread over the frame, not squeezed into a corner
    assert all(len(b) == 0 for b in person_boxes(biased(name, people=False), frames))


def test_box_masks_fill_boxes_at_the_threshold_and_follow_the_stride() -> None:
    pack = PackedFrames.allocate([4], (8, 8, 3), stride=2)  # 2 stored frames
    pack.finish()
    counts = np.array([2, 0])
    boxes = np.array([[0.9, 0, 0, 4, 4], [0.3, 4, 4, 8, 8]], dtype=np.float32)
    strict = BoxMasks(pack, counts, boxes, min_score=0.5)
    loose = BoxMasks(pack, counts, boxes, min_score=0.2)
    first = strict.read(0, torch.tensor([0, 1]))  # both map to stored frame 0
    assert first.shape == (2, 8, 8, 1) and int(first[0].sum()) == 16
    assert int(loose.read(0, torch.tensor([1]))[0].sum()) == 32
    assert int(strict.read(0, torch.tensor([2]))[0].sum()) == 0  # stored frame 1: no box
    assert strict.read(0).shape[0] == 2 and strict.coverage() == 0.5


def test_detection_runs_once_per_split_and_is_reused(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    cache = tmp_path / "cache"
    cat = LAYOUTS.get("ucf101")().scan(small["ucf101"], ScanOptions())
    split = prepare_split(cat, "test", 16, 1, cache, _silent, workers=0)
    cpu = torch.device("cpu")
    write_checkpoint(cache, "fasterrcnn", people=False)
    warnings: list[str] = []

    def finder(score: float) -> DetectedPeople:
        return DetectedPeople(PersonRegions("fasterrcnn", score, SIZE), cache, cpu, warnings.append)

    masks = finder(0.5).masks(split.frames, split.path, _silent)
    assert len(masks) == len(split.frames) and masks.coverage() == 0.0
    assert int(masks.read(0).sum()) == 0
    stored = finder(0.5).boxes_path(split.path)
    assert stored.is_file() and stored.parent == split.path.parent  # beside the pack
    written = stored.stat().st_mtime_ns
    # another threshold reads the stored boxes instead of detecting again
    assert finder(0.9).masks(split.frames, split.path, _silent).coverage() == 0.0
    assert stored.stat().st_mtime_ns == written and warnings == []
    # another checkpoint (here: everyone is a person) is detected again, saying why
    write_checkpoint(cache, "fasterrcnn", people=True)
    found = finder(0.5).masks(split.frames, split.path, _silent)
    assert found.coverage() == 1.0 and "another detector checkpoint" in warnings[-1]
    assert found.read(0).float().mean() > 0.5  # most pixels are inside a box
    # a damaged file (cut short, or not an npz at all) is detected again with a warning
    for damage in (stored.read_bytes()[: stored.stat().st_size // 2], b"not an npz"):
        stored.write_bytes(damage)
        assert finder(0.5).masks(split.frames, split.path, _silent).coverage() == 1.0
        assert "unreadable" in warnings[-1] and "detecting people again" in warnings[-1]


def run_blackening(tmp_path: Path, small: dict[str, Path], *extra: str) -> tuple[int, str]:
    return bench(
        "run", "--method", "blackening", "--dataset", "ucf101-vispr1",
        "--data-root", f"ucf101={small['ucf101']}", "--data-root", f"vispr={small['vispr']}",
        "--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
        "--set", "action_batch=4", "--set", "privacy_batch=4", *FAST, *extra,
    )  # fmt: skip


def test_missing_detector_weights_stop_the_run_before_any_work(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    code, out = run_blackening(tmp_path, small)
    name = DETECTORS["fasterrcnn"].weights
    assert code == 2 and name.filename in out and name.url in out
    assert str(tmp_path / "cache" / "weights") in out.replace("\n", "")
    assert not (tmp_path / "cache" / "prepared").exists()  # nothing was decoded
    assert not list((tmp_path / "res").glob("**/*.json"))


def test_blackening_on_real_data_uses_detected_people(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    write_checkpoint(tmp_path / "cache", "fasterrcnn", people=True)
    code, out = run_blackening(
        tmp_path, small, "--detect_size", str(SIZE), "--min_score", "0.6", "--no-reference"
    )
    assert code == 0, out
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "res" / "records").glob("*.json")]
    notes = record["notes"]
    assert notes["person_frames"] == (
        "people found in 100 % of action test frames and 100 % of privacy test frames"
    )
    assert notes["region"] == "detected people"
    assert "Faster R-CNN ResNet-50 FPN" in notes["person_regions"]
    assert "score >= 0.6" in notes["person_regions"] and f"{SIZE} px" in notes["person_regions"]
    assert record["params"]["detector"] == "fasterrcnn" and record["params"]["min_score"] == 0.6
    boxes = list((tmp_path / "cache" / "prepared").glob("*/*.persons-fasterrcnn-32px.npz"))
    assert len(boxes) == 6  # train / val / test of the action and the private set


def test_blackening_where_nobody_is_detected_leaves_the_frames_as_they_are(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    """Not the old whole-frame fallback (an all-black video): with no person found, the
    blackened streams are the raw ones, so every metric equals the raw reference's."""
    write_checkpoint(tmp_path / "cache", "fasterrcnn", people=False)
    code, out = run_blackening(tmp_path, small, "--detect_size", str(SIZE))
    assert code == 0, out
    records = [json.loads(p.read_text()) for p in (tmp_path / "res" / "records").glob("*.json")]
    by_method = {r["method"]: r for r in records}
    assert set(by_method) == {"raw", "blackening"}
    assert "0 % of action test frames" in by_method["blackening"]["notes"]["person_frames"]
    assert by_method["blackening"]["metrics"] == by_method["raw"]["metrics"]


def test_detector_settings_enter_the_key_only_where_a_detector_runs(
    small: dict[str, Path],
) -> None:
    from bench.orchestration.cell import Cell

    roots = {"ucf101": str(small["ucf101"]), "vispr": str(small["vispr"])}
    real = Cell(method="blackening", dataset="ucf101-vispr1", data_roots=roots).config()
    assert real.param_dict["detector"] == "fasterrcnn" and real.param_dict["min_score"] == 0.5
    other = Cell(
        method="blackening", params={"min_score": "0.7"}, dataset="ucf101-vispr1", data_roots=roots
    ).config()
    assert other.key() != real.key()
    # rendered masks, or a blur of whole frames: the settings do nothing, so they are left out
    synthetic = Cell(method="blackening", params={"min_score": "0.7"}).config()
    assert synthetic.param_dict == {"margin": 1}
    frame = Cell(
        method="blur", params={"region": "frame"}, dataset="ucf101-vispr1", data_roots=roots
    ).config()
    assert "detector" not in frame.param_dict


def test_anonymizing_footage_with_blackening_runs_its_detector(tmp_path: Path) -> None:
    """`bench anonymize --method blackening` finds people with the detector of its options
    (weights from the cache, checked before any work) and blacks them out."""
    import av

    video = fx.write_avi(tmp_path / "v.avi", fx.synthetic_frames(0, 4, 64, 48))
    args = ["anonymize", str(video), "--method", "blackening", "--detect_size", str(SIZE),
            "--margin", "0", "--out", str(tmp_path / "out"), "--lossless", "--resolution",
            "native", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]  # fmt: skip
    code, out = bench(*args)
    assert code == 2 and DETECTORS["fasterrcnn"].weights.filename in out.replace("\n", "")
    assert not (tmp_path / "out").exists()
    write_checkpoint(tmp_path / "cache", "fasterrcnn", people=True)
    code, out = bench(*args)
    assert code == 0, out
    with av.open(str(tmp_path / "out" / "v.mkv")) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert frames.shape == (4, 48, 64, 3)
    black = (frames == 0).all(axis=-1).mean()
    assert black > 0.05, black  # the detected people are black
