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

`plateaued` is the stopping rule: over the last `window` epochs, the probe's cMAP moved by at
most `tolerance` (absolute) and fT's loss by at most `tolerance` relative to its mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.contract.dataset import ImageArray, as_float
from bench.engine.metrics import class_mean_ap

PROBE_TRAIN = 1000  # at most this many private train images fit the probe
PROBE_VAL = 500  # at most this many held-out val images score it
PROBE_CHANNELS = 128
RIDGE = 10.0  # the ridge penalty (features are standardised)


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
    probe: Sequence[float], loss_t: Sequence[float], window: int, tolerance: float
) -> bool:
    """Whether the last `window` epochs moved the probe's cMAP by <= `tolerance` and fT's
    loss by <= `tolerance` of its mean (the game's stopping rule); False before `window`
    epochs or with `window` 0 (the game then runs to its maximum)."""
    if window <= 0 or len(probe) < window or len(loss_t) < window:
        return False
    p, t = np.asarray(probe[-window:]), np.asarray(loss_t[-window:])
    return bool(np.ptp(p) <= tolerance and np.ptp(t) <= tolerance * max(abs(t.mean()), 1e-8))


def game_convergence(rows: Sequence[dict[str, float]], max_epochs: int) -> dict[str, object] | None:
    """What a record says of its game (None without one): whether the stopping rule ended it
    (`converged`) or it ran its maximum, the epochs it ran, and the probe's last cMAP."""
    if not rows:
        return None
    last = rows[-1]
    return {
        "converged": last.get("plateau") == 1.0,
        "epochs": len(rows),
        "max_epochs": max_epochs,
        "probe_cmap": last.get("probe_cmap"),
    }
