"""Every architecture a preset can name builds and maps inputs to the right shapes."""

import pytest
import torch

from bench.contract.architectures import ACTION_ARCHS, PRIVACY_ARCHS
from bench.contract.config import PRESETS
from bench.models import action, privacy
from bench.models.action import build_action_model
from bench.models.anonymizer import FrameAnonymizer
from bench.models.privacy import AttributeClassifier, BudgetModel


@pytest.mark.parametrize("arch", ACTION_ARCHS)
def test_action_models_give_class_logits(arch: str) -> None:
    model = build_action_model(arch, num_classes=5).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 4, 32, 32)).shape == (2, 5)


@pytest.mark.parametrize("arch", ["tiny", "resnet18", "resnet50"])
def test_privacy_models_give_projections_and_attribute_logits(arch: str) -> None:
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert BudgetModel(arch, proj_dim=16).eval()(images).shape == (2, 16)
        assert AttributeClassifier(arch, 7).eval()(images).shape == (2, 7)
    assert arch in PRIVACY_ARCHS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_anonymizer_of_each_preset_keeps_clip_shape_and_range(preset: str) -> None:
    p = PRESETS[preset]
    fa = FrameAnonymizer(p.anon_encoder, p.anon_depth, p.anon_decoder, p.anon_residual).eval()
    size = 2**p.anon_depth * 2
    clips = torch.rand(1, 3, 2, size, size)
    with torch.no_grad():
        out = fa(clips)
    assert out.shape == clips.shape
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_residual_anonymizer_starts_as_identity() -> None:
    p = PRESETS["tiny"]
    assert p.anon_residual
    fa = FrameAnonymizer(p.anon_encoder, p.anon_depth, p.anon_decoder, residual=True).eval()
    clips = torch.rand(2, 3, 2, 32, 32) * 0.9 + 0.05
    with torch.no_grad():
        assert torch.allclose(fa(clips), clips, atol=1e-5)


def test_every_named_architecture_is_built_and_nothing_else() -> None:
    assert tuple(action.ARCHS) == ACTION_ARCHS
    assert PRIVACY_ARCHS[1:] == privacy.RESNETS and PRIVACY_ARCHS[0] == "tiny"
