"""Inversion attack (privbench's own; not in the paper: Table 9, `bench figure inversion`).

The attacker knows fA* (white box: it can run it) and owns raw private training images. It
trains a reconstruction network g on pairs (fA*(x), x) of the private train split, selected
on val (`bench.training.inversion`). A fresh fB' trained and selected on raw images then
scores the raw test images, fA*(test) and g(fA*(test)): `privacy_cmap` / `privacy_f1` are the
attack's (on the reconstructions), `anonymized_privacy_*` the same fB' on fA*(test) (Table 6's
pretrained attack) and `raw_privacy_*` on raw test. `reconstruction_psnr` (dB) and
`reconstruction_ssim` say how close g(fA*(test)) is to the raw test images;
`anonymized_psnr` / `anonymized_ssim` the same for fA*(test), the floor g starts from.

`inversion` attacks the known private set (synthetic P1; VISPR1), `inversion-novel` the novel
one (synthetic P2; VISPR2), with fA* learned on the known sets either way. g is stored under
`attacks/<attack key>/` and reused by every fB' of the same cell.
"""

from __future__ import annotations

from typing import ClassVar

from bench.contract.context import RunContext
from bench.contract.dataset import DatasetFamily
from bench.contract.method import Method
from bench.contract.protocol import PROTOCOLS, Protocol
from bench.training.fits import fitted_for_attack
from bench.training.inversion import inversion_attack

INVERSION_METRICS = (
    "privacy_cmap", "privacy_f1", "anonymized_privacy_cmap", "anonymized_privacy_f1",
    "raw_privacy_cmap", "raw_privacy_f1", "reconstruction_psnr", "reconstruction_ssim",
    "anonymized_psnr", "anonymized_ssim",
)  # fmt: skip


@PROTOCOLS.register("inversion")
class Inversion(Protocol):
    """A white-box attacker learns g to undo fA*, then attacks g(fA*(private test))."""

    description = "g learned to invert fA*; raw-trained fB' attacks g(fA*(private test))"
    metrics = INVERSION_METRICS
    evaluation_stages = 2  # fB' on raw images, then g
    reads_attack_settings = True
    attacked_role: ClassVar[str] = "known"

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit (or reuse) fA*; train fB' on raw images and g on (fA*(x), x); score both."""
        data = fitted_for_attack(method, dataset, self.attacked_role, ctx)
        with ctx.stage("privacy_eval"):
            return inversion_attack(method, data.privacy, ctx, ctx.attack_dir)


@PROTOCOLS.register("inversion-novel")
class InversionNovel(Inversion):
    """The inversion attack on the novel private set."""

    description = "the inversion attack on the novel private set (synthetic P2; VISPR2)"
    roles = ("known", "novel")
    attacked_role = "novel"
