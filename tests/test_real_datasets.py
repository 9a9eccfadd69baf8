"""Real-dataset layouts, decoding, prepared packs and runs, on trees the tests write.

Every fixture is in the dataset's own on-disk layout: AVIs encoded with PyAV, JPEGs, the
official split files and JSON / pickle annotations (see `bench.data.sample_trees`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.contract.errors import BenchError
from bench.data import sample_trees as fx
from bench.data.catalog import LAYOUTS, ScanOptions, carve_val
from bench.data.decoding import CorruptVideo, PyAVDecoder
from bench.data.frame_store import PackedFrames, to_working_size
from bench.data.prepare import prepare_split
from bench.datasets.vp import VP_ATTRIBUTES
from tests.conftest import FAST

runner = CliRunner()


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """UCF101, HMDB51 (+ PA-HMDB51, VP-HMDB labels) and VISPR trees, written once."""
    base = tmp_path_factory.mktemp("trees")
    hmdb = fx.make_hmdb51(base / "hmdb51")
    fx.make_pahmdb(hmdb)
    fx.make_vp_annotations(hmdb, "hmdb51_privacy_attribute_label.pickle")
    return {
        "ucf101": fx.make_ucf101(base / "ucf101"),
        "hmdb51": hmdb,
        "vispr": fx.make_vispr(base / "vispr"),
    }


def scan(layout: str, root: Path, **options: object) -> object:
    return LAYOUTS.get(layout)().scan(root, ScanOptions(**options))  # type: ignore[arg-type]


def _silent(description: str, total: int):  # type: ignore[no-untyped-def]
    return lambda: None


# --- decoding -----------------------------------------------------------------------------


def test_decoder_seeks_to_the_exact_frames(tmp_path: Path) -> None:
    frames = np.zeros((40, 48, 64, 3), dtype=np.uint8)
    frames += (np.arange(40) * 6).astype(np.uint8)[:, None, None, None]  # frame t is grey 6t
    path = fx.write_avi(tmp_path / "v.avi", frames)
    decoder = PyAVDecoder()
    assert decoder.probe(path).frames == 40
    everything = decoder.read(path, range(40))
    some = decoder.read(path, [25, 29, 33, 37])  # past a keyframe (every 12 frames)
    assert np.array_equal(some, everything[[25, 29, 33, 37]])
    # lossy, but frame t decodes to about grey 6t, in order
    grey = everything.mean(axis=(1, 2, 3))
    assert np.abs(grey - np.arange(40) * 6).max() < 6 and (np.diff(grey) > 0).all()
    past_end = decoder.read(path, [38, 39, 40, 41])
    assert np.array_equal(past_end[2:], everything[[39, 39]])
    import av  # the reused RGB conversion gives what a plain decode gives

    with av.open(str(path)) as container:
        plain = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert np.array_equal(everything, plain)


def test_corrupt_and_empty_files_raise_corrupt_video(tmp_path: Path) -> None:
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    for path in (empty, junk):
        with pytest.raises(CorruptVideo):
            PyAVDecoder().probe(path)


def test_working_size_crops_the_centre_then_resizes() -> None:
    frames = np.zeros((2, 100, 200, 3), dtype=np.uint8)
    frames[:, :10] = 255  # a band in the outer 10 %, cropped away
    out = to_working_size(frames, 16)
    assert out.shape == (2, 16, 16, 3) and out.dtype == torch.uint8
    assert out.max() == 0


def test_loader_items_are_uint8_and_become_float_model_input_batch_wise() -> None:
    """Clips and images leave the loader as stored uint8 pixels; `as_float` on the batch
    gives the per-item float conversion models were always given: exactly at the stored
    size, within float rounding where it resizes."""
    from bench.contract.dataset import ImageArray, VideoArray, as_float, to_float_clip
    from bench.training.clips import EvalClips, Images, TrainClips

    g = torch.Generator().manual_seed(0)
    array = torch.randint(0, 256, (3 * 20, 24, 24, 3), dtype=torch.uint8, generator=g).numpy()
    videos = PackedFrames(np.arange(0, 61, 20), np.full(3, 20), (24, 24, 3), array=array)
    data = VideoArray(videos, torch.tensor([0, 1, 2]))
    for ds in (TrainClips(data, 4, 2), EvalClips(data, 4, 2, 2)):
        items = [ds[i][0] for i in range(len(ds))]
        assert all(c.dtype == torch.uint8 and c.shape == (4, 24, 24, 3) for c in items)
        batch = torch.stack(items)
        same = torch.stack([to_float_clip(c, 24) for c in items])
        assert torch.equal(as_float(batch, 24), same)
        resized = torch.stack([to_float_clip(c, 16) for c in items])  # batch-wise: within 1 ulp
        torch.testing.assert_close(as_float(batch, 16), resized, rtol=0, atol=1e-6)
    images = ImageArray(PackedFrames(np.arange(4), np.ones(3), (24, 24, 3), array=array[:3]),
                        torch.zeros(3, 2))  # fmt: skip
    items = [Images(images)[i][0] for i in range(3)]
    assert all(x.dtype == torch.uint8 and x.shape == (24, 24, 3) for x in items)
    expected = torch.stack([to_float_clip(x[None], 16)[:, 0] for x in items])
    torch.testing.assert_close(as_float(torch.stack(items), 16), expected, rtol=0, atol=1e-6)


def test_clip_augmentation_is_drawn_once_per_clip() -> None:
    from bench.training.augment import clip_augmentation

    torch.manual_seed(0)
    still = torch.rand(6, 3, 1, 16, 16).expand(6, 3, 8, 16, 16).contiguous()
    clips = clip_augmentation(16)(still)
    assert clips.shape == still.shape
    assert torch.equal(clips, clips[:, :, :1].expand_as(clips))  # every frame alike
    assert not torch.allclose(clips, still)  # yet the clips did change


# --- layouts ------------------------------------------------------------------------------


def test_ucf101_splits_classes_and_group_disjoint_val(trees: dict[str, Path]) -> None:
    cat = scan("ucf101", trees["ucf101"])
    assert cat.labels == ("ApplyEyeMakeup", "Archery", "Basketball")
    sizes = {k: len(v) for k, v in cat.splits.items()}
    assert sizes == {"train": 12, "val": 6, "test": 6}
    groups = {
        s: {(it.label, it.path.stem.split("_")[-2]) for it in cat.splits[s]} for s in cat.splits
    }
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    assert cat.splits["test"][0].path.parent.name == cat.labels[cat.splits["test"][0].label]


def test_val_carving_is_seeded_and_stratified(trees: dict[str, Path]) -> None:
    cat = scan("ucf101", trees["ucf101"], val_fraction=0.0)
    a = carve_val(cat.splits["train"], 0.25)
    b = carve_val(cat.splits["train"], 0.25)
    assert a == b
    assert {it.label for it in a[1]} == {0, 1, 2}


def test_split_file_naming_absent_videos_is_reported(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1)
    (root / "UCF-101" / "Archery" / "v_Archery_g02_c01.avi").unlink()
    cat = scan("ucf101", root)
    assert any("v_Archery_g02_c01.avi, which does not exist" in p for p in cat.problems)
    assert all(it.path.exists() for items in cat.splits.values() for it in items)


def test_missing_root_and_split_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist.*UCF-101/<Class>"):
        scan("ucf101", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no classInd.txt"):
        scan("ucf101", tmp_path / "empty")
    with pytest.raises(BenchError, match="_test_split1.txt"):
        scan("hmdb51", tmp_path / "empty")
    with pytest.raises(BenchError, match="annotations/train2017"):
        scan("vispr1", tmp_path / "empty")


def test_hmdb51_reads_ids_with_trailing_spaces(trees: dict[str, Path]) -> None:
    cat = scan("hmdb51", trees["hmdb51"])
    assert cat.labels == ("brush_hair", "cartwheel", "catch")
    # per class of 6 clips from 3 sources: source 0 test (2), the last clip unused, 3 train
    assert len(cat.splits["test"]) == 6
    assert len(cat.splits["train"]) + len(cat.splits["val"]) == 9
    assert not any(
        "_video_2_u_nm_np1_ba_goo_1" in str(it.path) for s in cat.splits.values() for it in s
    )


def test_hmdb51_val_takes_whole_source_videos(trees: dict[str, Path]) -> None:
    from bench.datasets.hmdb51 import hmdb51_source

    cat = scan("hmdb51", trees["hmdb51"])
    sources = {s: {hmdb51_source(it.path) for it in cat.splits[s]} for s in cat.splits}
    assert sources["val"] and not sources["val"] & sources["train"]
    assert not sources["test"] & (sources["train"] | sources["val"])
    siblings = scan("hmdb51", trees["hmdb51"]).splits["test"]
    first, second = siblings[0].path.name, siblings[1].path.name
    assert first.endswith("_fr_goo_0.avi") and second.endswith("_ba_goo_1.avi")
    assert hmdb51_source(siblings[0].path) == hmdb51_source(siblings[1].path)  # other tags


def test_val_share_is_near_the_fraction_with_uneven_groups() -> None:
    """UCF101-like classes (groups of 4 to 7 clips): val is about 10 % of train, not more."""
    import random

    rng = random.Random(1)
    items = [
        fx_item(f"C{c}/v_C{c}_g{g:02d}_c{k:02d}.avi", c)
        for c in range(20)
        for g in range(8, 26)
        for k in range(1, rng.randint(4, 7) + 1)
    ]
    from bench.datasets.ucf101 import ucf101_group

    train, val = carve_val(items, 0.1, ucf101_group)
    share = len(val) / len(items)
    assert 0.085 < share < 0.115, share
    groups = {ucf101_group(it.path) for it in val}
    assert not groups & {ucf101_group(it.path) for it in train}


def fx_item(rel: str, label: int):  # type: ignore[no-untyped-def]
    from bench.data.catalog import VideoItem

    return VideoItem(Path("/ucf/UCF-101") / rel, label)


def test_pahmdb_frames_map_ranges_to_binary_labels(trees: dict[str, Path]) -> None:
    cat = scan("pahmdb51", trees["hmdb51"], frames_per_video=3)
    items = cat.splits["test"]
    assert cat.labels == ("gender", "face", "nudity", "skin_color", "relationship")
    assert len(items) == 3 * 2 * 3  # 3 frames x 2 annotated videos x 3 classes
    on_time = [it for it in items if "catch_video_0_u_nm_np1_ba_goo_1" not in it.path.name]
    assert {it.frame for it in on_time} == {0, 14, 29}
    for it in items:
        assert it.targets[0] == 1.0  # gender [1, 2]: both present
        assert it.targets[3] == float(it.frame > 14)  # skin colour 0 then 1
        assert it.targets[1] == 1.0 if it.frame > 14 else True  # face 2 in the second half


def test_pahmdb_samples_only_annotated_frames(trees: dict[str, Path]) -> None:
    """A video annotated from frame 9 on is sampled from 9, never from unannotated 0..8."""
    cat = scan("pahmdb51", trees["hmdb51"], frames_per_video=4)
    late = [
        it.frame for it in cat.splits["test"] if "catch_video_0_u_nm_np1_ba_goo_1" in it.path.name
    ]
    assert late == [fx.LATE_START, 16, 22, 29]
    from bench.datasets.hmdb51 import annotated_frames

    gap = {"face": [(0, 3, 1), (8, 9, 0)], "gender": [(2, 9, 1)], "nudity": []}
    assert annotated_frames(gap) == [2, 3, 8, 9]  # both ranged attributes cover them


def test_vispr_subsets_and_official_val(trees: dict[str, Path]) -> None:
    one = scan("vispr1", trees["vispr"])
    two = scan("vispr2", trees["vispr"])
    assert {k: len(v) for k, v in one.splits.items()} == {"train": 12, "val": 6, "test": 6}
    assert one.labels[0] == "a4_gender" and two.labels[0] == "a6_hair_color"
    anno = json.loads(
        next((trees["vispr"] / "annotations" / "train2017").glob("*.json")).read_text()
    )
    item = next(it for it in one.splits["train"] if it.path.stem == anno["id"])
    assert item.targets[0] == float("a4_gender" in anno["labels"])


def test_vispr_png_and_gif_images_load_and_check_opens_images(tmp_path: Path) -> None:
    from PIL import Image

    root = fx.make_vispr(
        tmp_path / "vispr", per_split={"train2017": 3, "val2017": 1, "test2017": 1}
    )
    folder = root / "annotations" / "train2017"
    first, second, third = sorted(folder.glob("*.json"))
    for anno_path, suffix in ((first, "png"), (second, "gif")):
        anno = json.loads(anno_path.read_text())
        old = root / anno["image_path"]
        new = old.with_suffix(f".{suffix}")
        Image.open(old).convert("RGB").save(new)
        old.unlink()
        anno["image_path"] = str(new.relative_to(root))
        anno_path.write_text(json.dumps(anno))
    code, out = bench("data", "check", "vispr1", "--root", str(root), "--json")
    assert code == 0 and json.loads(out)["files"]["train"] == 3, out
    out_split = prepare_split(
        scan("vispr1", root), "train", 16, 1, tmp_path / "c", _silent, workers=0
    )
    assert len(out_split.labels) == 3 and not out_split.skipped
    broken = root / json.loads(third.read_text())["image_path"]
    broken.write_bytes(b"\xff\xd8 not really a jpeg" * 10)
    code, out = bench("data", "check", "vispr1", "--root", str(root), "--json")
    report = json.loads(out)
    assert code == 1 and len(report["unreadable"]) == 1 and broken.name in report["unreadable"][0]


def test_vp_labels_follow_the_attribute_order(trees: dict[str, Path]) -> None:
    default = scan("vphmdb", trees["hmdb51"])
    swapped = scan(
        "vphmdb",
        trees["hmdb51"],
        attribute_order=("face", "skin_color", "gender", "nudity", "relationship"),
    )
    assert (
        default.labels
        == VP_ATTRIBUTES
        == ("skin_color", "face", "gender", "nudity", "relationship")
    )
    assert swapped.labels[:2] == ("face", "skin_color")
    a, b = default.splits["test"][0], swapped.splits["test"][0]
    assert a.targets == b.targets  # the file's columns, now named in the other order
    ours, theirs = default.counts()["test"], swapped.counts()["test"]
    assert ours["face"] == theirs["skin_color"] and ours["skin_color"] == theirs["face"]
    assert ours["face"] != ours["skin_color"]  # (the fixture's columns differ, so it shows)
    with pytest.raises(BenchError, match="give each of"):
        scan("vphmdb", trees["hmdb51"], attribute_order=("face", "face"))


@pytest.mark.parametrize("protocol", [2, 5])
def test_vp_reads_the_published_pickle(tmp_path: Path, protocol: int) -> None:
    """STPrivacy's file: `Class/name.mp4` keys, int64 arrays of shape (1, 5), any protocol."""
    from bench.datasets.vp import load_label_pickle

    root = fx.make_hmdb51(tmp_path / "hmdb", per_class=2, frames=4)
    path = fx.make_vp_annotations(root, "hmdb51_privacy_attribute_label.pickle", protocol=protocol)
    published = load_label_pickle(path)  # the restricted unpickler, never pickle.load
    key = next(iter(published))
    assert key.endswith(".mp4") and "/" in key and published[key].shape == (1, 5)
    assert published[key].dtype == np.int64
    code, out = bench("data", "check", "vphmdb", "--root", str(root), "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["items"]["test"] == 3 * 2 * 4  # 2 test clips per class, 4 frames each
    cat = scan("vphmdb", root)
    first = next(it for it in cat.splits["test"] if it.path.stem == Path(key).stem)
    assert first.targets == tuple(float(v) for v in published[key][0])


def test_a_malicious_label_pickle_is_refused_and_never_run(tmp_path: Path) -> None:
    import os
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    root = fx.make_hmdb51(tmp_path / "hmdb", per_class=2, frames=4)
    evil = tmp_path / "labels.pickle"
    evil.write_bytes(pickle.dumps({"brush_hair/x.mp4": Payload()}))
    code, out = bench("data", "check", "vphmdb", "--root", str(root), "--annotations", str(evil))
    assert code == 2 and "refused" in out and "system" in out and "Traceback" not in out
    assert not marker.exists()


# --- prepared packs -----------------------------------------------------------------------


def test_prepare_packs_frames_and_skips_corrupt_videos(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1, frames=20)
    bad = root / "UCF-101" / "Archery" / "v_Archery_g01_c01.avi"  # a test video
    bad.write_bytes(b"")
    cat = scan("ucf101", root)
    out = prepare_split(cat, "test", 16, 4, tmp_path / "cache", _silent, workers=0)
    assert len(out.labels) == 2 and len(out.skipped) == 1 and "zero-length" in out.skipped[0]
    clip = out.frames.read(0, torch.arange(0, 16, 4))
    assert clip.shape == (4, 16, 16, 3)
    assert out.frames.length(0) == 20  # lengths stay in original frames; storage is every 4th
    reread = prepare_split(cat, "test", 16, 4, tmp_path / "cache", _silent, workers=0)
    assert torch.equal(reread.frames.read(1), out.frames.read(1))  # reused from the cache


def test_split_with_no_readable_file_is_a_clear_error(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1, frames=20)
    for item in scan("ucf101", root).splits["test"]:
        item.path.write_bytes(b"")
    with pytest.raises(BenchError, match="none of its 3 files is readable"):
        prepare_split(scan("ucf101", root), "test", 16, 4, tmp_path / "cache", _silent, workers=0)


def test_truncated_pack_is_a_clear_error(tmp_path: Path) -> None:
    pack = PackedFrames.allocate([3, 2], (4, 4, 3), path=tmp_path / "p")
    pack.write(0, np.ones((3, 4, 4, 3), np.uint8))
    pack.finish()
    assert PackedFrames.open(tmp_path / "p").read(0).sum() == 3 * 48
    with open(tmp_path / "p.frames", "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(BenchError, match="truncated"):
        PackedFrames.open(tmp_path / "p")


# --- CLI ----------------------------------------------------------------------------------


def test_data_check_prints_counts_and_json(trees: dict[str, Path]) -> None:
    code, out = bench("data", "check", "ucf101", "--root", str(trees["ucf101"]))
    assert code == 0 and "ApplyEyeMakeup" in out and ": ok" in out
    code, out = bench("data", "check", "hmdb51", "--root", str(trees["hmdb51"]), "--json")
    report = json.loads(out)
    assert code == 0 and report["items"] == {"train": 6, "val": 3, "test": 6}
    assert report["files"]["val"] == 3
    assert report["per_label"]["test"]["catch"] == 2 and report["ok"]


def test_data_check_reports_corrupt_videos(tmp_path: Path) -> None:
    root = fx.make_ucf101(tmp_path / "ucf", groups=2, clips=1)
    (root / "UCF-101" / "Basketball" / "v_Basketball_g02_c01.avi").write_bytes(b"garbage" * 50)
    code, out = bench("data", "check", "ucf101", "--root", str(root), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert len(report["unreadable"]) == 1 and "v_Basketball_g02_c01.avi" in report["unreadable"][0]
    code, out = bench("data", "check", "ucf101", "--root", str(tmp_path / "none"))
    assert code == 2 and "does not exist" in out


def test_run_on_real_layouts_counts_skipped_files(tmp_path: Path, trees: dict[str, Path]) -> None:
    ucf = fx.make_ucf101(tmp_path / "ucf", frames=20)
    (ucf / "UCF-101" / "Archery" / "v_Archery_g03_c01.avi").write_bytes(b"")
    code, out = bench(
        "run", "--method", "raw", "--dataset", "ucf101-vispr1", "--no-reference",
        "--data-root", f"ucf101={ucf}", "--data-root", f"vispr={trees['vispr']}",
        "--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
        "--set", "action_batch=4", "--set", "privacy_batch=4", *FAST,
    )  # fmt: skip
    assert code == 0, out
    [record] = [json.loads(p.read_text()) for p in (tmp_path / "res" / "records").glob("*.json")]
    assert record["dataset"] == "ucf101-vispr1" and record["notes"]["skipped_files"] == "1"
    assert record["config"]["data_roots"]["ucf101"] == str(ucf.resolve())
    assert 0 <= record["metrics"]["action_top1"] <= 1
    assert not (Path(record["run_dir"]) / "scratch").exists()


def test_hmdb_pahmdb_run_holds_pahmdb_videos_out_of_training(
    tmp_path: Path, trees: dict[str, Path]
) -> None:
    fam = __import__("bench.contract.dataset", fromlist=["DATASETS"]).DATASETS.get("hmdb51-pahmdb")(
        {"hmdb51": trees["hmdb51"], "vispr": trees["vispr"]}
    )
    action, privacy = fam.catalogs()
    test_paths = {it.path for it in action.splits["test"]}
    assert len(test_paths) == 6
    assert not test_paths & {it.path for s in ("train", "val") for it in action.splits[s]}
    assert len(privacy.splits["test"][0].targets) == 5 and len(privacy.labels) == 7
    code, out = bench(
        "run", "--method", "raw", "--dataset", "hmdb51-pahmdb",
        "--data-root", f"hmdb51={trees['hmdb51']}", "--data-root", f"vispr={trees['vispr']}",
        "--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
        "--set", "action_batch=4", "--set", "privacy_batch=4", *FAST,
    )  # fmt: skip
    assert code == 0, out


def test_real_dataset_without_roots_is_a_clear_error(tmp_path: Path) -> None:
    code, out = bench("run", "--dataset", "ucf101-vispr1", "--results-dir", str(tmp_path))
    assert code == 2 and "--data-root ucf101=DIR --data-root vispr=DIR" in out
    code, out = bench(
        "run", "--dataset", "ucf101-vispr1", "--data-root", f"ucf101={tmp_path}/x",
        "--data-root", f"vispr={tmp_path}", "--results-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and "no such folder" in out
    code, out = bench("run", "--data-root", f"ucf101={tmp_path}", "--results-dir", str(tmp_path))
    assert code == 2 and "reads no --data-root" in out
