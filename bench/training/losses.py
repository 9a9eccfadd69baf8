"""Losses of the minimax training: NT-Xent for the budget branch and the RMS hinge penalty."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: (z1[i], z2[i]) are positives, all other 2N-2 samples negatives."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def rms_per_sample(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Root-mean-square difference of each sample (first dim) over all its other dims."""
    return (x - y).float().pow(2).flatten(1).mean(1).clamp_min(1e-12).sqrt()


def budget_penalty(
    x: torch.Tensor, anonymized: torch.Tensor, budget: float, over: str = "clip"
) -> torch.Tensor:
    """Paper eq. 4, differentiable: max(0, RMS(X - fA(X)) - B).

    over='clip': the hinge of each clip's RMS, averaged over the batch; over='batch': the
    hinge of one RMS over the whole batch (the released code).
    """
    if over == "batch":
        rms = (x - anonymized).float().pow(2).mean().clamp_min(1e-12).sqrt()
        return F.relu(rms - budget)
    return F.relu(rms_per_sample(x, anonymized) - budget).mean()
