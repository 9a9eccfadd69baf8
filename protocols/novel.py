"""Novel actions and attributes (paper Table 2, section 4.3.2).

fA* is learned on the dataset's known sets (synthetic A + P1; UCF101 + VISPR1) and frozen.
Fresh fT' and fB' are then trained, selected and scored on a disjoint action set and private
set that fA never saw (synthetic B + P2; HMDB51 + VISPR2): does the anonymizer generalise?
"""

from __future__ import annotations

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.protocol import PROTOCOLS, Protocol
from bench.training.fits import fit_or_reuse
from bench.training.scoring import evaluate_on


@PROTOCOLS.register("novel")
class Novel(Protocol):
    """fA* from the known sets, fT' / fB' trained and scored on unseen sets (Table 2)."""

    description = "fA* learned on the known sets, evaluated on disjoint novel sets (Table 2)"
    roles = ("known", "novel")

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit (or reuse) fA* on the known sets, then evaluate on the novel ones."""
        with ctx.stage("data"):
            data = dataset.load("novel", ctx)
        fit_or_reuse(method, ctx, lambda: dataset.load("known", ctx), data)
        return evaluate_on(method, data, ctx)
