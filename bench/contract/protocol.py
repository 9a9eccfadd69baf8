"""Protocol plug-in base: how a method's fA* is trained and scored for one table cell."""

from __future__ import annotations

from typing import ClassVar

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.registry import Registry


class Protocol:
    """Trains the method, then scores fresh evaluation models; returns the metrics dict."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    roles: ClassVar[tuple[str, ...]] = ("known",)  # the dataset settings it reads
    metrics: ClassVar[tuple[str, ...]] = ("action_top1", "privacy_cmap", "privacy_f1")
    # models it trains after the fit (each one progress bar): fresh fT' and fB'
    evaluation_stages: ClassVar[int] = 2
    # trains an attack (e.g. the inversion network) from the preset's `attack` settings, which
    # then enter its cells' keys
    reads_attack_settings: ClassVar[bool] = False

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """The values named in `metrics` (fractions), plus any extra the protocol records."""
        raise NotImplementedError


PROTOCOLS: Registry[Protocol] = Registry("protocol", "bench.protocols")
