"""Model size and cost: parameter count and FLOPs per clip."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameter elements."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def flops_per_clip(model: nn.Module, num_joints: int, frames: int, in_channels: int = 3) -> int:
    """Forward FLOPs for one clip (batch 1, eval mode), as counted by ``torch.utils.flop_counter``.

    Convention: 1 multiply-add = 2 FLOPs (so MACs = FLOPs / 2). Only matmul-like ops (conv, mm, bmm,
    baddbmm, ...) are counted; elementwise ops, normalisation and pooling are not. The count depends on
    the CTR-GC implementation the model uses (the fast one skips work the reference does, e.g. it pools
    over time before the correlation convolutions).
    """
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = torch.zeros(1, in_channels, frames, num_joints, dtype=param.dtype, device=param.device)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)
