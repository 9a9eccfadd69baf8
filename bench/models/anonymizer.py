"""The anonymizer fA: a UNet++ encoder-decoder applied frame-wise to RGB clips."""

from __future__ import annotations

import torch
from torch import nn

from bench.contract.dataset import map_frames
from bench.contract.errors import BenchError


def check_encoder(name: str) -> None:
    """A BenchError unless smp can build the UNet++ encoder `name` (an smp encoder, or
    `tu-<timm model>`)."""
    if name.startswith("tu-"):
        import timm

        if not timm.is_model(name[3:]):
            raise BenchError(
                f"--set anon_encoder={name}: timm has no model '{name[3:]}'; "
                "e.g. tu-regnetx_002, tu-mobilenetv3_small_100"
            )
        return
    import segmentation_models_pytorch as smp  # imported when needed: it takes seconds

    known = smp.encoders.get_encoder_names()
    if name not in known:
        raise BenchError(
            f"--set anon_encoder={name}: unknown encoder; use one of segmentation-models-"
            f"pytorch's ({', '.join(known[:6])}, ...) or tu-<timm model>"
        )


def frame_output(
    frames: torch.Tensor, logits: torch.Tensor, residual: bool, bounded: bool = True
) -> torch.Tensor:
    """fA's output from its UNet++ logits. Bounded (sigmoid): sigmoid(logits), or
    sigmoid(logit(x) + logits) for the residual fA. Unbounded (no activation, as the
    penalty paper's released fA): logits, or x + logits for the residual fA; such output is
    clamped to [0, 1] only where frames are stored as 8-bit or scored.
    TorchScript-compatible: the export uses it as it is."""
    if residual:
        if bounded:
            return torch.sigmoid(torch.logit(frames.clamp(1e-3, 1 - 1e-3)) + logits)
        return frames + logits
    return torch.sigmoid(logits) if bounded else logits


class FrameAnonymizer(nn.Module):
    """UNet++ (segmentation-models-pytorch) mapping each RGB frame in [0,1] to an RGB frame.

    With `residual=True` the output is sigmoid(logit(x) + UNet++(x)) (x + UNet++(x) with
    `output="none"`) and the UNet++ head starts at zero, so fA starts as the exact identity. Used at tiny resolutions, where smp's UNet++
    (no full-resolution skip) cannot reproduce 1-pixel detail and an L1-pretrained fA0 acts
    as a blur.
    """

    def __init__(
        self,
        encoder: str,
        depth: int,
        decoder: tuple[int, ...],
        residual: bool = False,
        output: str = "sigmoid",
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.residual = residual
        self.bounded = output == "sigmoid"
        self.depth = depth
        self.net = smp.UnetPlusPlus(
            encoder_name=encoder,
            encoder_weights=None,
            encoder_depth=depth,
            decoder_channels=decoder,
            in_channels=3,
            classes=3,
        )
        if residual:
            head = self.net.segmentation_head[0]
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    @property
    def output_stride(self) -> int:
        """What frame sides must be multiples of (the encoder's total downsampling)."""
        return int(getattr(self.net.encoder, "output_stride", 2**self.depth))

    def forward_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0,1] -> same shape (in [0,1] when bounded)."""
        return frame_output(frames, self.net(frames), self.residual, self.bounded)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) in [0,1] -> same shape; every frame is processed on its own, in RGB."""
        return map_frames(self.forward_frames, clips)
