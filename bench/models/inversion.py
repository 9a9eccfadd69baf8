"""g, the inversion attack's reconstruction network: a small UNet from an anonymized frame to
the raw one (`--protocol inversion`). `depth` levels, `width` channels at the first, doubled
at each level down. The output is a learned per-pixel colour map of the input (a 1x1
convolution, starting as the identity) plus the UNet's correction (starting at zero),
clamped to [0, 1]: an untrained g returns its input (the attacker's first guess is fA*(x)
itself), a global colour change is undone by the linear path alone, and local damage (blur,
pixelation, removed regions) is the UNet's work."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class InversionUNet(nn.Module):
    """(N, 3, H, W) in [0, 1] -> (N, 3, H, W) in [0, 1]; any H, W (padded to 2**(depth-1))."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        channels = [width * 2**i for i in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList(
            _block(cin, cout) for cin, cout in zip([3, *channels[:-1]], channels, strict=True)
        )
        self.up = nn.ModuleList(
            _block(channels[i] + channels[i + 1], channels[i]) for i in range(depth - 1)
        )
        self.head = nn.Conv2d(channels[0], 3, 1, bias=False)
        nn.init.zeros_(self.head.weight)  # no correction at first
        self.colour = nn.Conv2d(3, 3, 1)
        with torch.no_grad():  # the identity at first
            self.colour.weight.copy_(torch.eye(3)[:, :, None, None])
            nn.init.zeros_(self.colour.bias)  # type: ignore[arg-type]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """The reconstruction of `frames` (anonymized RGB in [0, 1])."""
        h, w = frames.shape[-2:]
        multiple = 2 ** (self.depth - 1)
        x = F.pad(frames, [0, (-w) % multiple, 0, (-h) % multiple], mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for i in reversed(range(self.depth - 1)):
            x = F.interpolate(x, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([skips[i], x], dim=1))
        return (self.colour(frames) + self.head(x)[..., :h, :w]).clamp(0, 1)
