"""Small real-format dataset trees (encoded AVIs, JPEGs, split and annotation files).

Used by the tests and by `bench perf --loading`: each writer lays files out exactly as the
real dataset ships them, only with few, small videos whose content is a coloured square
moving over a textured background.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


def synthetic_frames(seed: int, frames: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 (frames, height, width, 3): a square moving over a striped background."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = rng.uniform(40, 200, 3)
    background = base + 30 * np.sin(xs[..., None] / rng.uniform(3, 12) + np.arange(3))
    colour = rng.uniform(0, 255, 3)
    side = max(2, min(width, height) // 4)
    vx, vy = rng.uniform(-3, 3, 2)
    x0, y0 = rng.uniform(0, width - side), rng.uniform(0, height - side)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        frame = background.copy()
        x = int(x0 + vx * t) % max(1, width - side)
        y = int(y0 + vy * t) % max(1, height - side)
        frame[y : y + side, x : x + side] = colour
        out[t] = frame.clip(0, 255).astype(np.uint8)
    return out


def write_avi(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encode RGB uint8 (T, H, W, 3) frames as an MPEG-4 Part 2 AVI (UCF101's kind of file)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "12"}  # keyframe every 12 frames, so seeking is exercised
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_jpeg(path: Path, image: np.ndarray) -> Path:
    """Write an RGB uint8 (H, W, 3) image as JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    from torchvision.io import encode_jpeg  # imported when needed: it takes seconds

    data = encode_jpeg(torch.from_numpy(image).permute(2, 0, 1).contiguous(), quality=90)
    path.write_bytes(data.numpy().tobytes())
    return path


def make_ucf101(
    root: Path,
    classes: Sequence[str] = ("ApplyEyeMakeup", "Archery", "Basketball"),
    groups: int = 4,
    clips: int = 2,
    size: tuple[int, int] = (64, 48),
    frames: int = 30,
    test_groups: int = 1,
) -> Path:
    """A UCF101 tree: UCF-101/<Class>/v_<Class>_gXX_cYY.avi plus ucfTrainTestlist/ (3 splits)."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text(
        "".join(f"{i} {c}\r\n" for i, c in enumerate(classes, 1))  # the release uses CRLF
    )
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label, cls in enumerate(classes, 1):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                rel = f"{cls}/v_{cls}_g{g:02d}_c{c:02d}.avi"
                seed = label * 1000 + g * 10 + c
                write_avi(root / "UCF-101" / rel, synthetic_frames(seed, frames, *size))
                (test if g <= test_groups else train).append((rel, label))
    for split in (1, 2, 3):
        (lists / f"trainlist0{split}.txt").write_text("".join(f"{r} {lab}\r\n" for r, lab in train))
        (lists / f"testlist0{split}.txt").write_text("".join(f"{r}\r\n" for r, _ in test))
    return root


def make_hmdb51(
    root: Path,
    classes: Sequence[str] = ("brush_hair", "cartwheel", "catch"),
    per_class: int = 6,
    size: tuple[int, int] = (64, 48),
    frames: int = 30,
) -> Path:
    """An HMDB51 tree: <action>/<name>.avi plus testTrainMulti_7030_splits/ (ids 1/2/0).

    As in the release, clips come two per source video (`..._fr_goo_0.avi`,
    `..._ba_goo_1.avi`: tags may differ between them) and the split files keep a source's
    clips together: the first source of each class is
    test, the others train, and the very last clip is unused (id 0).
    """
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    for label, cls in enumerate(classes):
        lines = []
        for n in range(per_class):
            source, clip = divmod(n, 2)
            view = "fr" if clip == 0 else "ba"  # one source's clips may differ in their tags
            name = f"{cls}_video_{source}_u_nm_np1_{view}_goo_{clip}.avi"
            write_avi(root / cls / name, synthetic_frames(label * 100 + n, frames, *size))
            split_id = 2 if source == 0 else (0 if n == per_class - 1 else 1)
            lines.append(f"{name} {split_id} \n")  # the release ends lines with a space
        for split in (1, 2, 3):
            (splits / f"{cls}_test_split{split}.txt").write_text("".join(lines))
    return root


LATE_START = 9  # the first annotated frame of `make_pahmdb`'s late-starting video


def make_pahmdb(root: Path, videos_per_class: int = 2) -> Path:
    """PrivacyAttributes/<action>.json over the first videos of each class of an HMDB51 tree.

    The last class's first video is annotated from frame `LATE_START` on, as 14 of the
    published videos are (e.g. catch.json's `Faith_Rewarded_catch_f_cm_np1_fr_med_10.avi`).
    """
    folder = root / "PrivacyAttributes"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    actions = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.avi")))
    for action_dir in actions:
        annotations = {}
        for k, video in enumerate(sorted(action_dir.glob("*.avi"))[:videos_per_class]):
            first = LATE_START if action_dir == actions[-1] and k == 0 else 0
            half = 14
            annotations[video.name] = {
                "face": [[first, half, int(rng.integers(0, 3))], [half + 1, 29, 2]],
                "gender": [[first, 29, [1, 2]]],
                "nudity": [[first, 29, int(rng.integers(0, 3))]],
                "skin_color": [[first, half, 0], [half + 1, 29, 1]],
                "relationship": [[first, 29, int(rng.integers(0, 2))]],
                "review": True,
                "note": "",
            }
        (folder / f"{action_dir.name}.json").write_text(json.dumps(annotations))
    return root


def make_vispr(
    root: Path,
    per_split: dict[str, int] | None = None,
    labels: Sequence[str] = ("a4_gender", "a9_face_complete", "a17_color", "a6_hair_color"),
) -> Path:
    """A VISPR tree: images/<split>2017/*.jpg with annotations/<split>2017/*.json."""
    per_split = per_split or {"train2017": 12, "val2017": 6, "test2017": 6}
    rng = np.random.default_rng(1)
    for k, (folder, count) in enumerate(per_split.items()):
        for n in range(count):
            stem = f"2017_{k}{n:07d}"
            h, w = int(rng.integers(40, 70)), int(rng.integers(40, 70))
            write_jpeg(root / "images" / folder / f"{stem}.jpg", synthetic_frames(n, 1, w, h)[0])
            chosen = [a for a in labels if rng.random() < 0.5]
            anno = {"id": stem, "image_path": f"images/{folder}/{stem}.jpg", "labels": chosen}
            path = root / "annotations" / folder / f"{stem}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(anno))
    return root


def make_vp_annotations(
    root: Path, filename: str, width: int = 5, protocol: int = pickle.HIGHEST_PROTOCOL
) -> Path:
    """A label pickle as STPrivacy publishes it, over every AVI under `root`: a dict keyed
    `Class/name.mp4` (the releases' videos are `.avi`) of int64 numpy arrays of shape (1, 5)."""
    rng = np.random.default_rng(2)
    labels = {
        f"{p.parent.name}/{p.stem}.mp4": rng.integers(0, 2, (1, width)).astype(np.int64)
        for p in sorted(root.rglob("*.avi"))
    }
    path = root / filename
    with path.open("wb") as fh:
        pickle.dump(labels, fh, protocol=protocol)
    return path
