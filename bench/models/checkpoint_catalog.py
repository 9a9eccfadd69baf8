"""Every checkpoint a run can load (`bench weights`), found and verified on disk.

`checkpoints()` is the one list of every checkpoint anything can load (`bench weights`): it is
read from where each model defines its checkpoint (`bench.models.action.ARCHS`, the ResNets of
`bench.models.privacy`, `bench.models.person_detector.DETECTORS`), with the presets that load
one, plus those a plug-in adds with `register_checkpoint`. torchvision's file names carry the
first hex digits of the file's sha256 (`r2plus1d_18-91a641e6.pth`), which torch.hub checks on
download and `verify` checks on disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bench.contract.config import PRESETS
from bench.models.weights import PretrainedWeights, find_weights


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file some run can load, and every option or preset that loads it."""

    weights: PretrainedWeights
    uses: tuple[str, ...]


_REGISTERED: list[tuple[PretrainedWeights, str]] = []


def register_checkpoint(weights: PretrainedWeights, use: str) -> PretrainedWeights:
    """Add a checkpoint (a plug-in model's) to the ones `bench weights` lists; returns it."""
    if (weights, use) not in _REGISTERED:
        _REGISTERED.append((weights, use))
    return weights


def checkpoints() -> list[Checkpoint]:
    """Every checkpoint a run can load, one entry per file (its uses merged): fT' (action
    models), fB' (privacy models), the presets' auxiliary fT / fB, the person detectors, and
    those registered by plug-ins. Imports torchvision's model lists (seconds)."""
    # imported here: those modules import this one
    from bench.models.action import action_checkpoint, action_checkpoint_uses
    from bench.models.person_detector import DEFAULT_DETECTOR, DETECTORS
    from bench.models.privacy import privacy_checkpoint, privacy_checkpoint_uses

    found: list[tuple[PretrainedWeights, str]] = [*action_checkpoint_uses()]
    found += privacy_checkpoint_uses()
    for name, preset in PRESETS.items():
        for weights, model in (
            (action_checkpoint(preset.aux_ft_arch, preset.aux_ft_init), "fT"),
            (privacy_checkpoint(preset.aux_fb_arch, preset.aux_fb_init), "fB"),
        ):
            if weights is not None:
                found.append((weights, f"preset {name}'s {model}"))
    for name, detector in DETECTORS.items():
        default = " (the default)" if name == DEFAULT_DETECTOR else ""
        found.append((detector.weights, f"person detector --detector {name}{default}"))
    found += _REGISTERED
    merged: dict[str, tuple[PretrainedWeights, list[str]]] = {}
    for weights, use in found:
        uses = merged.setdefault(weights.url, (weights, []))[1]
        if use not in uses:
            uses.append(use)
    return [Checkpoint(w, tuple(uses)) for w, uses in merged.values()]


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Check:
    """What is on disk for one checkpoint."""

    state: str  # missing, verified, corrupt, unreadable, or unchecked (no hash in its name)
    path: Path | None = None  # where it was found (the first of `weight_dirs` holding it)
    sha256: str | None = None  # of the file, when it was hashed

    @property
    def usable(self) -> bool:
        """Present and not known to be damaged."""
        return self.state in ("verified", "unchecked")


def check_checkpoint(weights: PretrainedWeights, cache_dir: Path) -> Check:
    """Where `weights` is on disk and whether its sha256 starts with the prefix its name
    carries (the whole file is read)."""
    path = find_weights(weights, cache_dir)
    if path is None:
        return Check("missing")
    prefix = weights.sha256_prefix
    if prefix is None:
        return Check("unchecked", path)
    try:
        digest = file_sha256(path)
    except OSError:
        return Check("unreadable", path)
    return Check("verified" if digest.startswith(prefix) else "corrupt", path, digest)


def expected_sizes() -> dict[str, int]:
    """URL -> size in bytes of every checkpoint torchvision's weight enums know (their
    `_file_size` meta, in MiB)."""
    from torchvision import models as tv_models  # imported when needed: it takes seconds

    sizes: dict[str, int] = {}
    for name in tv_models.list_models():
        for entry in tv_models.get_model_weights(name):
            size = entry.meta.get("_file_size")
            if isinstance(size, int | float):
                sizes[entry.url] = round(size * 2**20)
    return sizes
