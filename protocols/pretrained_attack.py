"""Attack by a privacy classifier pretrained on raw data (paper Table 6, supplement 8.3).

fA* is learned on the known sets. A fresh fB' is trained on the raw private train images and
selected on raw val; it then scores fA*(private test) with no further training: the threat of
an attacker who holds a model trained on raw images. Reports cMAP and F1 on fA*(test), and
the same fB' on raw test as `raw_privacy_*` for reference.

`pretrained-attack` uses the known private set (VISPR1; PA-HMDB for hmdb51-pahmdb; synthetic
P1), `pretrained-attack-novel` the novel one (VISPR2; synthetic P2): Table 6's columns.
"""

from __future__ import annotations

from typing import ClassVar

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.protocol import PROTOCOLS, Protocol
from bench.training.fits import fitted_for_attack
from bench.training.scoring import pretrained_attack

ATTACK_METRICS = ("privacy_cmap", "privacy_f1", "raw_privacy_cmap", "raw_privacy_f1")


@PROTOCOLS.register("pretrained-attack")
class PretrainedAttack(Protocol):
    """fB' trained on raw private images scores fA*(private test) (Table 6)."""

    description = "fB' trained on raw images attacks fA*(private test) (Table 6)"
    metrics = ATTACK_METRICS
    evaluation_stages = 1  # one fB', trained on raw images
    attacked_role: ClassVar[str] = "known"

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit (or reuse) fA*; train fB' on raw images; score it on anonymized test images."""
        data = fitted_for_attack(method, dataset, self.attacked_role, ctx)
        with ctx.stage("privacy_eval"):
            return pretrained_attack(method, data.privacy, ctx)


@PROTOCOLS.register("pretrained-attack-novel")
class PretrainedAttackNovel(PretrainedAttack):
    """The pretrained attack on the novel private set (Table 6, VISPR2 column)."""

    description = "fB' trained on raw novel images attacks fA*(novel test) (Table 6, VISPR2)"
    roles = ("known", "novel")
    attacked_role = "novel"
