"""Decode a catalog once into uint8 packs at the working resolution (`bench data prepare`).

Each split becomes a `PackedFrames` under `<cache>/prepared/<dataset>-<fingerprint>/`, at
the working frame size (centre crop of 0.8, resized; paper section 4.2) and keeping every
`stride`-th frame (the clip skip rate, so a clip reads consecutive stored frames). Training
then reads memory-mapped frames instead of decoding. Corrupt or zero-length files are
skipped with a warning, listed in the pack's index and counted in the run record; they never
stop a run. Preparing again with the same files, size and stride reuses the packs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from bench.contract.atomic import clean_stale_temps
from bench.contract.errors import BenchError
from bench.contract.frames import Report
from bench.contract.locks import Notify, exclusive, to_stderr
from bench.data.catalog import Catalog, ImageItem, VideoItem
from bench.data.decoding import CorruptVideo, VideoDecoder, get_decoder
from bench.data.frame_store import PackedFrames, SubsetFrames, to_working_size


@dataclass(frozen=True)
class PreparedSplit:
    """One split's frames with its labels (action) or targets (privacy), and what was skipped."""

    frames: SubsetFrames
    labels: torch.Tensor
    skipped: tuple[str, ...]
    path: Path  # the pack, without suffix (what else is stored about the split sits beside it)


PACK_FORMAT = "u8resize"  # how frames were brought to the working size; a new one re-prepares


def pack_path(catalog: Catalog, split: str, size: int, stride: int, cache_dir: Path) -> Path:
    """Where a split's pack lives (without suffix)."""
    folder = cache_dir / "prepared" / f"{catalog.name}-{catalog.fingerprint()}"
    return folder / f"{split}-{size}px-stride{stride}-{PACK_FORMAT}"


def prepare_split(
    catalog: Catalog,
    split: str,
    size: int,
    stride: int,
    cache_dir: Path,
    report: Report,
    workers: int = 2,
    decoder: str = "auto",
    warn: Notify | None = None,
) -> PreparedSplit:
    """The split's pack, read from the cache or decoded now. A damaged pack is prepared
    again (saying so); workers sharing a cache prepare each pack once (its lock)."""
    items = catalog.splits[split]
    path = pack_path(catalog, split, size, stride, cache_dir)
    with exclusive(path, f"the prepared {catalog.name} {split} split", warn):
        clean_stale_temps(path.parent)
        opened = None
        if path.with_suffix(".json").is_file():
            try:
                opened = _open(path)
            except BenchError as exc:
                (warn or to_stderr)(f"{exc}; preparing it again")
        if opened is None:
            build = get_decoder(decoder)
            _build(items, path, size, stride, report, workers, build, catalog, split)
            opened = _open(path)
    pack, index = opened
    kept = index["kept"]
    if catalog.kind == "action":
        labels = torch.tensor([items[k].label for k in kept], dtype=torch.long)
    else:
        width = len(items[0].targets)  # test may use other attributes (PA-HMDB)
        labels = torch.tensor([items[k].targets for k in kept], dtype=torch.float32)
        labels = labels.reshape(len(kept), width)
    frames = SubsetFrames(pack, index["slots"])
    return PreparedSplit(frames, labels, tuple(index["skipped"]), path)


def _open(path: Path) -> tuple[PackedFrames, dict[str, Any]]:
    """A finished pack and its index; BenchError if either is damaged."""
    pack = PackedFrames.open(path)
    index = json.loads(path.with_suffix(".json").read_text())
    if not all(isinstance(index.get(k), list) for k in ("kept", "slots", "skipped")):
        raise BenchError(f"prepared data at {path.with_suffix('.json')} has no list of videos")
    return pack, index


def read_image(path: Path) -> np.ndarray:
    """RGB uint8 (1, H, W, 3) of a JPEG, PNG or GIF (first frame); CorruptVideo if unreadable."""
    try:
        from torchvision.io import ImageReadMode, decode_image  # imported when needed: seconds

        image = decode_image(str(path), mode=ImageReadMode.RGB)
    except (RuntimeError, OSError, ValueError) as e:
        raise CorruptVideo(path, f"unreadable image ({e})") from None
    if image.ndim == 4:  # an animated GIF: its first frame
        image = image[0]
    return image.permute(1, 2, 0).unsqueeze(0).numpy()


class _Probe(Dataset[tuple[int, Any]]):
    def __init__(self, items: list[Any], decoder: VideoDecoder, open_images: bool) -> None:
        self.items, self.decoder, self.open_images = items, decoder, open_images

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[int, Any]:
        item = self.items[i]
        if item.path.stat().st_size == 0:
            return i, CorruptVideo(item.path, "zero-length file")
        try:
            if isinstance(item, ImageItem) and not item.from_video:
                if self.open_images:
                    read_image(item.path)
                return i, 1
            return i, self.decoder.probe(item.path).frames
        except CorruptVideo as e:
            return i, e


class _Decode(Dataset[tuple[int, Any]]):
    def __init__(
        self,
        items: list[Any],
        lengths: dict[int, int],
        decoder: VideoDecoder,
        size: int,
        stride: int,
    ) -> None:
        self.items, self.lengths, self.decoder = items, lengths, decoder
        self.size, self.stride = size, stride
        self.order = sorted(lengths)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, n: int) -> tuple[int, Any]:
        i = self.order[n]
        item = self.items[i]
        try:
            frames = self._frames(item, self.lengths[i])
        except CorruptVideo as e:
            return i, e
        return i, to_working_size(frames, self.size)

    def _frames(self, item: Any, length: int) -> np.ndarray:
        if isinstance(item, VideoItem):
            return self.decoder.read(item.path, range(0, length, self.stride))
        if item.frame is not None:
            return self.decoder.read(item.path, [min(item.frame, length - 1)])
        if item.position is not None:
            return self.decoder.read(item.path, [round(item.position * (length - 1))])
        return read_image(item.path)


def probe_items(
    items: list[Any],
    report: Report,
    description: str,
    workers: int = 2,
    decoder: VideoDecoder | None = None,
    open_images: bool = False,
) -> tuple[dict[int, int], list[str]]:
    """(frame count per readable item index, 'path: reason' per unreadable file).

    Videos are opened; image files only with `open_images` (`bench data check`), as
    preparing decodes each image anyway and skips the unreadable ones then."""
    decoder = decoder or get_decoder()
    lengths: dict[int, int] = {}
    skipped: list[str] = []
    advance = report(description, len(items))
    probe = _Probe(items, decoder, open_images)
    for i, result in DataLoader(probe, num_workers=workers, collate_fn=_first):
        if isinstance(result, CorruptVideo):
            skipped.append(f"{result.path}: {result.reason}")
        else:
            lengths[i] = result
        advance()
    return lengths, skipped


def _first(batch: list[tuple[int, Any]]) -> tuple[int, Any]:
    return batch[0]


def _build(
    items: list[Any],
    path: Path,
    size: int,
    stride: int,
    report: Report,
    workers: int,
    decoder: VideoDecoder,
    catalog: Catalog,
    split: str,
) -> None:
    if not items:
        raise BenchError(f"{catalog.name} {split} split has no items; check the tree")
    lengths, skipped = probe_items(
        items, report, f"{catalog.name} {split}: probe", workers, decoder
    )
    kept_items = sorted(lengths)
    if not kept_items:
        raise BenchError(
            f"{catalog.name} {split}: none of its {len(items)} files is readable (e.g. "
            f"{skipped[0]}); `bench data check` lists what is wrong"
        )
    video = catalog.kind == "action"
    pack_lengths = [lengths[i] if video else 1 for i in kept_items]
    pack = PackedFrames.allocate(pack_lengths, (size, size, 3), stride if video else 1, path)
    slot = {i: n for n, i in enumerate(kept_items)}
    failed: set[int] = set()
    advance = report(f"{catalog.name} {split}: decode", len(kept_items))
    decode = _Decode(items, lengths, decoder, size, stride)
    try:
        for i, result in DataLoader(decode, num_workers=workers, collate_fn=_first):
            if isinstance(result, CorruptVideo):
                skipped.append(f"{result.path}: {result.reason}")
                failed.add(i)
            else:
                stored = PackedFrames.stored_count(pack_lengths[slot[i]], pack.stride)
                pack.write(slot[i], _fit_length(result, stored))
            advance()
    except BaseException:
        pack.discard()  # a half-written pack of maybe gigabytes is not left behind
        raise
    good = [i for i in kept_items if i not in failed]
    # "kept": catalog item indices; "slots": where each sits in the pack (same order)
    pack.finish({"kept": good, "slots": [slot[i] for i in good], "skipped": sorted(skipped)})


def _fit_length(frames: torch.Tensor, stored: int) -> torch.Tensor:
    """Frames padded with the last one (or cut) to the slot's length: headers can miscount."""
    if frames.shape[0] >= stored:
        return frames[:stored]
    pad = frames[-1:].expand(stored - frames.shape[0], -1, -1, -1)
    return torch.cat([frames, pad])
