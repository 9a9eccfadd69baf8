"""What a dataset serves besides tensors: stored frames (`FrameSource`), person masks and
their region labels, how people are found where no masks are given (`PersonRegions`,
`PersonFinder`), and the progress callback of long preparations (`Report`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch


class FrameSource(Protocol):
    """Videos of uint8 frames (T, H, W, C), all of one frame size."""

    def __len__(self) -> int: ...

    def length(self, i: int) -> int:
        """Number of frames of video `i` (in the original frame rate)."""
        ...

    def read(self, i: int, indices: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 (T, H, W, C) frames of video `i` at `indices` (every stored frame if None)."""
        ...


# Person masks are uint8 (N, T, H, W): 0 where there is no person, > 0 on people. A renderer
# that knows more labels its regions (the synthetic benchmark does): the actor's body, the
# pixels that carry the action cues, and everything else of a person (bystanders, worn and
# carried items). Only the `oracle` reference method reads the labels; the person-region
# baselines read `mask > 0`. On real data the masks come from a person detector
# (`PersonFinder`) as a FrameSource of (T, H, W, 1) frames, read like the videos.
REGION_BODY = 1
REGION_ACTION = 2
REGION_OTHER = 3


PersonMasks = torch.Tensor | FrameSource  # (N, T, H, W) tensor, or (T, H, W, 1) per video


@dataclass(frozen=True)
class PersonRegions:
    """How a region baseline finds people on data that has no person masks: a detector of
    `bench.models.person_detector`, the score a box must reach, the detector's input side."""

    detector: str
    min_score: float
    size: int


Report = Callable[[str, int], Callable[[], None]]  # (description, total) -> advance


class PersonFinder(Protocol):
    """Finds people in a split's frames (runs a detector once and stores what it found)."""

    description: str  # what the record says: detector, score threshold, input size

    def masks(self, frames: FrameSource, store: Path, report: Report) -> FrameSource:
        """(T, H, W, 1) uint8 person masks for every video of `frames`, aligned with its
        stored frames; detections are kept at `store` (a path prefix) and reused."""
        ...
