"""Known actions and attributes (paper Table 1, section 4.3.1).

fA* is learned on the action train split (and, for supervised methods, the private train
split) of the dataset's known setting. Then, with fA* frozen, fresh fT' and fB' are trained on
fA*(train), selected on fA*(val) and scored on fA*(test) of the same sets
(`bench.training.scoring`).
"""

from __future__ import annotations

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.protocol import PROTOCOLS, Protocol
from bench.training.fits import fit_or_reuse
from bench.training.scoring import evaluate_on


@PROTOCOLS.register("known")
class Known(Protocol):
    """Train fA* and evaluate fT' / fB' on the same action and private sets (Table 1)."""

    description = "fA* learned and evaluated on the same action + private sets (Table 1)"

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit (or reuse) fA*, anonymize every split, train and score fT' and fB'."""
        with ctx.stage("data"):
            data = dataset.load("known", ctx)
        fit_or_reuse(method, ctx, lambda: data, data)
        return evaluate_on(method, data, ctx)
