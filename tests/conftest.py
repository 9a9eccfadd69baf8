"""Shared fixtures: one rendered synthetic cache per test session, fast CLI settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Short schedules so an end-to-end run takes seconds; the pipeline is the real one.
FAST = [
    "--set", "identity_epochs=1",
    "--set", "warmup_epochs=1",
    "--set", "anon_epochs=1",
    "--set", "action_epochs=2",
    "--set", "privacy_epochs=2",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir shared by the session so the synthetic data is rendered once."""
    return tmp_path_factory.mktemp("cache")
