"""Pretrained weights (Kinetics-400, ImageNet, COCO) read from local files; nothing is downloaded.

A checkpoint is looked up by the file name of its official download URL, first in
`<cache dir>/weights/`, then in torch's hub cache (`$TORCH_HOME/hub/checkpoints/`, where
`torchvision` and `torch.hub` keep what they download). When it is in neither, the error names
the file, its URL and both folders.

The list of every checkpoint anything can load is `bench.models.checkpoint_catalog`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.contract.errors import BenchError

HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's HASH_REGEX, at least one digit


@dataclass(frozen=True)
class PretrainedWeights:
    """One published checkpoint: what it was trained on, where it comes from, how it is stored."""

    dataset: str  # "kinetics400" or "imagenet"
    url: str
    state_key: str | None = None  # sub-dict holding the state dict (pytorchvideo: model_state)

    @property
    def filename(self) -> str:
        """The checkpoint's file name, as torch.hub saves it."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def sha256_prefix(self) -> str | None:
        """The start of the file's sha256 that its name carries (torch.hub checks it on
        download), or None when the name carries none (pytorchvideo's)."""
        found = HASH_IN_NAME.search(self.filename)
        return found.group(1) if found else None


def weight_dirs(cache_dir: Path) -> list[Path]:
    """Folders searched for checkpoints, in order."""
    return [cache_dir / "weights", Path(torch.hub.get_dir()) / "checkpoints"]


def find_weights(weights: PretrainedWeights, cache_dir: Path) -> Path | None:
    """The local checkpoint file, or None."""
    for folder in weight_dirs(cache_dir):
        path = folder / weights.filename
        if path.is_file():
            return path
    return None


def require_weights(weights: PretrainedWeights, cache_dir: Path, option: str) -> Path:
    """The local checkpoint file; a missing one is a user error naming the file and folders."""
    path = find_weights(weights, cache_dir)
    if path is None:
        places = " or ".join(str(d) for d in weight_dirs(cache_dir))
        raise BenchError(
            f"{option} needs the {weights.dataset} checkpoint '{weights.filename}', which is not "
            f"on this machine (nothing is downloaded at run time); download {weights.url} and "
            f"put it in {places}"
        )
    return path


def load_weights(
    weights: PretrainedWeights, cache_dir: Path, option: str
) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict; a missing or unreadable file is a user error naming the fix."""
    path = require_weights(weights, cache_dir, option)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise BenchError(
            f"{option}: checkpoint '{path}' cannot be read ({type(exc).__name__}); "
            f"download {weights.url} again"
        ) from None
    if weights.state_key is not None:
        if not isinstance(state, dict) or weights.state_key not in state:
            raise BenchError(
                f"{option}: checkpoint '{path}' has no '{weights.state_key}' entry; "
                f"is it {weights.url}?"
            )
        state = state[weights.state_key]
    return state  # type: ignore[no-any-return]


def load_into(
    model: torch.nn.Module, weights: PretrainedWeights, cache_dir: Path, option: str
) -> None:
    """Load the checkpoint into `model` (same architecture, its original head)."""
    state = load_weights(weights, cache_dir, option)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise BenchError(
            f"{option}: '{weights.filename}' does not fit this architecture ({first[:160]})"
        ) from None
