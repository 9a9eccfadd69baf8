"""Where a method stands among the stored ones (`bench compare`), on one leaderboard page:
its row beside every other, the settings it dominates and those that dominate it on the
action-privacy plane (means over seeds), and the hypervolume of each method's front.

Hypervolume against raw: the area of the plane (top-1 %, cMAP %) that a method's settings
dominate, measured from the reference point (raw's cMAP, top-1 0): each setting with less
leakage than raw covers the rectangle from its point to that corner, and a method's
hypervolume is the area of the union of its settings' rectangles, in %². Higher is better; a
method that leaks as much as raw, or more, has 0. The share is that area over raw's own box
(raw cMAP x raw top-1): the fraction of raw's corner of the plane the method keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.reports.leaderboard import Entry, Page


@dataclass(frozen=True)
class Standing:
    """One setting's place on a page."""

    entry: Entry
    dominates: tuple[str, ...]  # labels of the settings it dominates
    dominated_by: tuple[str, ...]


@dataclass(frozen=True)
class Hypervolume:
    """A method's front against raw."""

    method: str
    area: float  # %²
    share: float  # of raw's box, in [0, 1] unless a setting beats raw's top-1
    settings: int


def _point(entry: Entry) -> tuple[float, float] | None:
    stats = entry.stats
    if "privacy_cmap" not in stats or "action_top1" not in stats:
        return None
    return stats["privacy_cmap"].mean, stats["action_top1"].mean


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether (cMAP, top-1) point `a` dominates `b`: no more leakage, no less action, and
    better on one of them."""
    return a[0] <= b[0] and a[1] >= b[1] and a != b


def standing(page: Page, entry: Entry) -> Standing:
    """What `entry` dominates on `page` and what dominates it (means over seeds)."""
    mine = _point(entry)
    beaten, beating = [], []
    for other in page.entries:
        theirs = _point(other)
        if other is entry or mine is None or theirs is None:
            continue
        if dominates(mine, theirs):
            beaten.append(other.label)
        elif dominates(theirs, mine):
            beating.append(other.label)
    return Standing(entry, tuple(beaten), tuple(beating))


def hypervolume(points: Sequence[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by (cMAP, top-1) `points` from `reference` (cMAP_ref, top1_ref): the
    union of the rectangles [cMAP, cMAP_ref] x [top1_ref, top-1] of the points inside it."""
    inside = sorted(
        (c, t) for c, t in points if c < reference[0] and t > reference[1]
    )  # by leakage, lowest first
    area, best = 0.0, reference[1]
    for i, (c, t) in enumerate(inside):
        best = max(best, t)
        right = inside[i + 1][0] if i + 1 < len(inside) else reference[0]
        area += (right - c) * (best - reference[1])
    return area


def hypervolumes(page: Page) -> list[Hypervolume]:
    """Each method's hypervolume against raw on `page` (methods by name: all its settings
    form its front), highest first; empty without a raw row."""
    raw = next((e for e in page.entries if e.method == "raw" and not e.params), None)
    corner = _point(raw) if raw is not None else None
    if corner is None:
        return []
    reference = (corner[0], 0.0)
    box = corner[0] * corner[1]
    by_method: dict[str, list[tuple[float, float]]] = {}
    for entry in page.entries:
        point = _point(entry)
        if point is not None and entry.method != "raw" and not entry.evaluation:
            by_method.setdefault(entry.method, []).append(point)
    found = [
        Hypervolume(m, area, area / box if box > 0 else 0.0, len(points))
        for m, points in by_method.items()
        for area in [hypervolume(points, reference)]
    ]
    return sorted(found, key=lambda h: -h.area)
