import math

import pytest
import torch

from bench.methods.penalty import Penalty
from bench.models.anonymizer import FrameAnonymizer
from bench.training.losses import budget_penalty, nt_xent, rms_per_sample


def test_nt_xent_hand_computed_for_two_pairs() -> None:
    # orthogonal unit vectors: positives identical (sim 1), negatives orthogonal (sim 0)
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = z1.clone()
    t = 0.5
    # each anchor: logits {pos: 1/t, two negatives: 0} -> -log(e^2 / (e^2 + 2))
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert nt_xent(z1, z2, t).item() == pytest.approx(expected, rel=1e-5)


def test_nt_xent_grows_when_positives_disagree() -> None:
    z = torch.randn(8, 16)
    assert nt_xent(z, -z, 0.1) > nt_xent(z, z, 0.1)


def test_rms_and_hinge_penalty() -> None:
    x = torch.zeros(2, 3, 2, 4, 4)
    y = torch.full_like(x, 0.5)
    y[1] = 0.1
    assert rms_per_sample(x, y).tolist() == pytest.approx([0.5, 0.1])
    # only the first clip exceeds B=0.3: mean(max(0, [0.2, -0.2])) = 0.1
    assert budget_penalty(x, y, 0.3).item() == pytest.approx(0.1)
    assert budget_penalty(x, y, 0.6).item() == 0.0
    # the released code's form: one RMS over the batch, sqrt((0.25 + 0.01) / 2) = 0.3606
    assert budget_penalty(x, y, 0.3, "batch").item() == pytest.approx(0.13**0.5 - 0.3, rel=1e-5)
    term, stats = Penalty(B=0.3, rms="batch").penalty(x, y)
    assert term.item() == pytest.approx(0.13**0.5 - 0.3, rel=1e-5)
    assert stats == {"hinge_active": 0.5}  # one of the two clips is over B


def _penalty_grad_norm(mode: str) -> float:
    torch.manual_seed(0)
    fa = FrameAnonymizer("resnet18", 3, (8, 8, 8))
    method = Penalty(B=0.0, lam=1.0, penalty_grad=mode)
    clips = torch.rand(2, 3, 2, 32, 32)
    term, _ = method.penalty(clips, fa(clips))
    assert term.item() > 0  # B = 0: any deviation is penalised
    if term.requires_grad:
        term.backward()
    return sum(p.grad.abs().sum().item() for p in fa.parameters() if p.grad is not None)


def test_penalty_reaches_anonymizer_gradient() -> None:
    assert _penalty_grad_norm("full") > 0


def test_detached_penalty_ablation_never_reaches_anonymizer() -> None:
    assert _penalty_grad_norm("detached") == 0
