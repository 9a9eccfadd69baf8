"""Privacy against its chance level: the AP a classifier that ranks at random reaches on an
attribute is the attribute's prevalence in the scored split, so cMAP has a floor that
depends on the data (the synthetic benchmark's is not VISPR1's). Tables can show cMAP
normalised by it, per seed:

    chance-normalised cMAP = (cMAP - chance) / (raw cMAP - chance), in percent,

100 for raw data, 0 at chance. The chance cMAP of a (dataset, protocol, seed) is the mean
prevalence of the attributes with a positive in that seed's private test split (those cMAP
averages over), read from the data itself: the synthetic data is rendered (or read from the
cache) at the seed; a real dataset is read only where it loads without data roots, so its
chance level is otherwise unknown and the tables leave the normalised value out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.contract.config import Preset
from bench.contract.context import quiet_cpu_context
from bench.contract.dataset import DATASETS, Benchmark
from bench.contract.errors import BenchError
from bench.contract.protocol import PROTOCOLS
from bench.store.reading import RecordSet, Selector, Stat

# (dataset, protocol, seed) -> the chance cMAP in percent, None where unknown
Chance = Callable[[str, str, int], float | None]


def chance_ap(data: Benchmark) -> dict[str, float]:
    """Each attribute's chance AP on the private test split: its prevalence there."""
    prevalence = data.privacy.splits.test.targets.float().mean(0).tolist()
    return dict(zip(data.privacy.attributes, prevalence, strict=True))


def chance_cmap(data: Benchmark) -> float:
    """The cMAP of a random ranking on the private test split, in percent: the mean
    prevalence over the attributes that have a positive there."""
    present = [p for p in chance_ap(data).values() if p > 0]
    return 100.0 * sum(present) / len(present)


def normalised(cmap: float, raw: float, chance: float) -> float | None:
    """(cMAP - chance) / (raw - chance) in percent; None when raw is not above chance."""
    return None if raw <= chance else 100.0 * (cmap - chance) / (raw - chance)


def normalised_stat(
    records: RecordSet, chosen: Selector, preset: str, chance: Chance
) -> Stat | None:
    """Chance-normalised cMAP (%) of the runs `chosen` selects, per seed against raw's run of
    that seed; None where no seed has raw's run and a known chance level."""
    raw = {
        int(r["seed"]): float(r["metrics"]["privacy_cmap"]) * 100
        for r in records.select(chosen.with_method("raw", {}), preset)
    }
    values: dict[int, float] = {}
    for record in records.select(chosen, preset):
        seed = int(record["seed"])
        level = chance(chosen.dataset, chosen.protocol, seed)
        if seed in raw and level is not None:
            value = normalised(float(record["metrics"]["privacy_cmap"]) * 100, raw[seed], level)
            if value is not None:
                values[seed] = value
    return Stat.of(values)


class ChanceLevels:
    """Chance cMAP per (dataset, protocol, seed), in percent, read from the data once each."""

    def __init__(self, preset: Preset, cache_dir: Path) -> None:
        self.preset, self.cache_dir = preset, cache_dir
        self.known: dict[tuple[str, str, int], float | None] = {}

    def __call__(self, dataset: str, protocol: str, seed: int) -> float | None:
        """The chance cMAP of the private test split `protocol` scores (its last dataset
        setting: 'novel' for the novel protocol); None for data that cannot be read without
        its roots."""
        key = (dataset, PROTOCOLS.get(protocol).roles[-1], seed)
        if key not in self.known:
            self.known[key] = self._read(*key)
        return self.known[key]

    def _read(self, dataset: str, role: str, seed: int) -> float | None:
        with tempfile.TemporaryDirectory() as run_dir:
            ctx = quiet_cpu_context(self.preset, self.cache_dir, Path(run_dir), seed)
            try:
                return chance_cmap(DATASETS.get(dataset)().load(role, ctx))
            except (BenchError, OSError, TypeError):  # real data without its roots
                return None
