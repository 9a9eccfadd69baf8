"""Privacy only: fA* learned on the known sets, then only a fresh fB' is trained and scored.

A quicker protocol for screening privacy: the same fA* as `known` (the fit is shared), the
private splits anonymized with `anonymized_splits`, and cMAP / F1 of a fresh fB' on
fA*(private test). No fT' is trained, so the record has no action top-1.
"""

from __future__ import annotations

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.protocol import PROTOCOLS, Protocol
from bench.training.anonymize_splits import anonymized_splits
from bench.training.fits import fit_or_reuse
from bench.training.scoring import evaluate_privacy


@PROTOCOLS.register("privacy-only")
class PrivacyOnly(Protocol):
    """fA* from the known sets; a fresh fB' trained and scored on fA*(private images)."""

    description = "fA* learned on the known sets; only a fresh fB' is trained and scored"
    roles = ("known",)  # the dataset settings it reads
    metrics = ("privacy_cmap", "privacy_f1")  # what its records keep
    evaluation_stages = 1  # the models it trains after the fit (one fB'), for 'stage k/n'

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit (or reuse) fA*, anonymize the private splits, train and score fB'."""
        with ctx.stage("data"):
            data = dataset.load("known", ctx)
        fit_or_reuse(method, ctx, lambda: data, data)
        with ctx.stage("anonymize"):
            private = anonymized_splits(method, data.privacy.splits, ctx, videos=False)
        with ctx.stage("privacy_eval"):
            scores = evaluate_privacy(data, private, ctx)
        return {"privacy_cmap": scores["cmap"], "privacy_f1": scores["f1"]}
