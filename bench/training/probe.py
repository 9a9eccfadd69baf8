"""A fresh attacker's view of the game while it runs: the privacy a cheap probe reads from fA's
output, and the rule that ends the game once it and fT's loss stop moving.

The in-loop fB is the adversary fA is trained against, so its loss says little about what a
new attacker could read. After every minimax epoch, `PrivacyProbe` passes fixed slices of the
private train and val images through fA, maps them to random convolutional features (one
fixed 5x5 convolution of 128 channels with ReLU, average-pooled to a 4x4 grid: local
patterns, not only colours), fits a ridge regression from the train slice's features to the
attributes and scores cMAP on the held-out val slice. It is closed form and deterministic
(the features' weights come from a fixed seed), so it draws no number from the run's random
streams; about 3 s an epoch at the tiny preset on 2 CPU cores. At the tiny preset on raw
32 px images it reads cMAP 0.735, after weak blur 0.609, strong blur 0.599 and 4x
downsampling 0.598 (900 / 300 images; a trained fB' reads about 0.99 on raw): weaker than
fB', but it moves with what fA removes.

`plateaued` is the stopping rule. It compares the mean of the last `window` epochs with the
mean of the `window` before them (means, so one noisy epoch of the probe neither stops nor
prolongs the game): the game has settled when the probe's cMAP moved by at most `tolerance`
(absolute), fT's loss and fA's RMS each by at most `tolerance` of their value per epoch
(fT's training loss keeps falling slowly while fT fits its training clips; a relative rate
tells that from fT still adapting to a changing fA; without the RMS, SPAct's released
recipe stopped at epoch 7 while fA's RMS grew from 0.022 to 0.091 over three epochs), and
the game has started: over the last window fA's
output is at least `STARTED_RMS` from its input (mean RMS(X - fA(X)); the mildest fixed
baseline, weak blur, moves a tiny clip by 0.072) or the probe reads less than it reads on
raw images by more than `tolerance`. The last condition tells a game that has not started
from one that has settled: under the released recipe's rates at the tiny schedule, fA
stayed within RMS 0.015 of its input and the probe at its raw value while fT's loss moved
slowly, which a plateau test alone called converged after 6 epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.contract.dataset import ImageArray, as_float
from bench.training.metrics import class_mean_ap

PROBE_TRAIN = 1000  # at most this many private train images fit the probe
PROBE_VAL = 500  # at most this many held-out val images score it
PROBE_CHANNELS = 128
RIDGE = 10.0  # the ridge penalty (features are standardised)
STARTED_RMS = 0.05  # fA's output this far from its input (RMS, pixels in [0, 1]): started


class PrivacyProbe:
    """Random-feature ridge probe of the attributes readable from fA's output (see module)."""

    def __init__(self, train: ImageArray, val: ImageArray, size: int, device: torch.device) -> None:
        self.train, self.train_targets = _slice(train, PROBE_TRAIN)
        self.val, self.val_targets = _slice(val, PROBE_VAL)
        self.size, self.device = size, device
        generator = torch.Generator().manual_seed(1)
        weights = torch.randn(PROBE_CHANNELS, 3, 5, 5, generator=generator)
        self.weights = (weights / weights.flatten(1).norm(dim=1)[:, None, None, None]).to(device)

    @torch.no_grad()
    def features(
        self, pixels: torch.Tensor, anonymize: Callable[[torch.Tensor], torch.Tensor] | None
    ) -> np.ndarray:
        """uint8 (N, H, W, C) images -> (N, F) random convolutional features of their
        anonymized (None: raw) frames."""
        out = []
        for chunk in pixels.split(128):
            frames = as_float(chunk.to(self.device), self.size)
            if anonymize is not None:
                frames = anonymize(frames).float().clamp(0, 1)
            maps = F.relu(F.conv2d(frames - 0.5, self.weights, padding=2))
            out.append(F.adaptive_avg_pool2d(maps, 4).flatten(1).cpu())
        return torch.cat(out).numpy().astype(np.float64)

    def cmap(self, anonymize: Callable[[torch.Tensor], torch.Tensor] | None) -> float:
        """The probe's val cMAP on `anonymize`'s output ((N, C, H, W) frames in [0, 1] in,
        the same out; None: the raw images)."""
        a, b = self.features(self.train, anonymize), self.features(self.val, anonymize)
        mean, std = a.mean(0), a.std(0) + 1e-6
        a, b = (a - mean) / std, (b - mean) / std
        y = self.train_targets - self.train_targets.mean(0)
        alpha = np.linalg.solve(a @ a.T + RIDGE * np.eye(len(a)), y)  # ridge, dual form
        return class_mean_ap(b @ (a.T @ alpha), self.val_targets)


def _slice(images: ImageArray, n: int) -> tuple[torch.Tensor, np.ndarray]:
    """The first `n` images (uint8 (n, H, W, C)) and their targets: a fixed slice."""
    n = min(n, len(images))
    return torch.stack([images.image(i) for i in range(n)]), images.targets[:n].numpy()


def plateaued(
    probe: Sequence[float],
    loss_t: Sequence[float],
    rms: Sequence[float],
    raw_probe: float,
    window: int,
    tolerance: float,
) -> bool:
    """Whether the game has settled (the stopping rule; see the module): False before
    2 x `window` epochs, or with `window` 0 (the game then runs to its maximum).
    `raw_probe`: the probe's cMAP on raw images."""
    if window <= 0 or min(len(probe), len(loss_t), len(rms)) < 2 * window:
        return False
    p, t, r = (np.asarray(x[-2 * window :]) for x in (probe, loss_t, rms))
    p_moved = abs(p[window:].mean() - p[:window].mean())
    return bool(
        p_moved <= tolerance
        and _relative_rate(t, window) <= tolerance
        and _relative_rate(r, window) <= tolerance
        and started(float(r[window:].mean()), float(p[window:].mean()), raw_probe, tolerance)
    )


def _relative_rate(values: np.ndarray, window: int) -> float:
    """How much the mean of the last `window` of 2 x `window` values moved from the mean of
    the first, per epoch, relative to that first mean."""
    before = max(abs(float(values[:window].mean())), 1e-8)
    return abs(float(values[window:].mean()) - float(values[:window].mean())) / before / window


def started(rms: float, probe: float, raw_probe: float, tolerance: float) -> bool:
    """Whether fA has left the identity: its output `rms` from its input at least
    `STARTED_RMS`, or the `probe` below its raw value by more than `tolerance`."""
    return rms >= STARTED_RMS or raw_probe - probe > tolerance


def game_convergence(
    history: Mapping[str, Sequence[Mapping[str, float]]], max_epochs: int, tolerance: float
) -> dict[str, object] | None:
    """What a record says of its game, from its `history` (None without a game): its
    `state`, 'converged' (the stopping rule ended it), 'stalled' (it ran its maximum with fA
    still at the identity: `started` false for its last epoch) or 'max_epochs' (it ran its
    maximum); `converged` (a bool), the epochs it ran, and the last epoch's probe cMAP and
    RMS."""
    rows = history.get("minimax", [])
    if not rows:
        return None
    raw_probe = history.get("probe", [{}])[0].get("raw_cmap", 1.0)
    last = rows[-1]
    converged = last.get("plateau") == 1.0
    moved = started(last.get("rms", 1.0), last.get("probe_cmap", 0.0), raw_probe, tolerance)
    return {
        "converged": converged,
        "state": "converged" if converged else "max_epochs" if moved else "stalled",
        "epochs": len(rows),
        "max_epochs": max_epochs,
        "probe_cmap": last.get("probe_cmap"),
        "rms": last.get("rms"),
    }
