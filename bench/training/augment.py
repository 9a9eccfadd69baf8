"""Augmentation on float tensors in [0, 1]: clips for anonymizer training, image views for
the self-supervised budget model.

* Clips (paper section 4.2): random erase, random crop (resized back), horizontal flip and
  colour jitter, drawn once per clip and applied to all its frames (kornia's VideoSequential
  with `same_on_frame`), on (N, C, T, H, W).
* Views (SimCLR's recipe, as the SPAct budget branch uses it): random resized crop, flip,
  colour jitter and random greyscale, drawn per image, on (N, C, H, W).
"""

from __future__ import annotations

import kornia.augmentation as K
from torch import nn


def clip_augmentation(size: int) -> nn.Module:
    """The anonymizer-training augmentation for square clips of side `size`."""
    return K.VideoSequential(
        K.RandomResizedCrop((size, size), scale=(0.64, 1.0), ratio=(0.75, 1.333)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomErasing(scale=(0.02, 0.2), p=0.5),
        data_format="BCTHW",
        same_on_frame=True,
    )


def view_augmentation(size: int) -> nn.Module:
    """SimCLR-style views of square images of side `size` (one draw per image)."""
    return nn.Sequential(
        K.RandomResizedCrop((size, size), scale=(0.5, 1.0)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
    )
