"""Where the fixed obfuscation baselines act: the person region, or the whole frame.

The paper's Obf-* rows (from VITA / SPAct) obfuscate the region of a person detector. Here
the region is the dataset's person masks (the synthetic renderer knows them exactly), grown
by a margin the way a detector's box is looser than the silhouette. A dataset without masks
(most real ones) falls back to the whole frame, and the run log says so.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.contract.context import RunContext
from bench.contract.dataset import Benchmark


def person_region(clips: torch.Tensor, masks: torch.Tensor | None, margin: int) -> torch.Tensor:
    """(N, 1, T, H, W) float in {0, 1}: masks grown by `margin` px, or all ones without masks."""
    if masks is None:
        n, _, t, h, w = clips.shape
        return clips.new_ones(n, 1, t, h, w)
    region = (masks > 0).to(clips.dtype)
    if margin > 0:
        k = 2 * margin + 1
        region = F.max_pool3d(region, (1, k, k), stride=1, padding=(0, margin, margin))
    return region


def log_region(data: Benchmark, ctx: RunContext, method: str) -> None:
    """Record (and warn, on fallback) whether the person masks or whole frames are used."""
    sets = {"action": data.action.splits, "private": data.privacy.splits}
    missing = [
        name
        for name, splits in sets.items()
        if any(s.person_masks is None for s in (splits.train, splits.val, splits.test))
    ]
    if not missing:
        ctx.note("region", "person masks")
        return
    region = "; ".join(
        f"{name}: {'whole frame (no person masks)' if name in missing else 'person masks'}"
        for name in sets
    )
    ctx.note("region", region)
    ctx.console.print(
        f"[yellow]{method}: no person masks in the {', '.join(missing)} set; "
        "using whole frames there"
    )
