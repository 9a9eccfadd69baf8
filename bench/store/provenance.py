"""What produced a record: package versions, git commit, device, host."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from bench.contract.distributed import world
from bench.contract.plugins import loaded_plugins

PACKAGES = (
    "torch",
    "torchvision",
    "segmentation-models-pytorch",
    "kornia",
    "numpy",
    "scikit-learn",
)


def git_sha() -> str | None:
    """Commit of the source tree the package was imported from (None outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(device: torch.device) -> dict[str, Any]:
    """A JSON-ready description of the software and hardware of this run."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "privbench": _version("privbench"),
        "git_sha": git_sha(),
        "device": str(device),
        "device_name": name or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "processes": world().size,  # torchrun's processes (each on its own device)
        "plugins": loaded_plugins(),
    }
