"""The input check every backbone makes: (N, C, T, V) with the model's C and V."""

from __future__ import annotations

import torch
from torch import Tensor

from gspmc.errors import ConfigError


def check_input(x: Tensor, channels: int, joints: int) -> None:
    """Raise a clear ConfigError unless ``x`` is (N, channels, T, joints); no check while tracing
    (the export's example input fixes the shapes)."""
    if torch.jit.is_tracing():
        return
    if x.dim() != 4 or x.shape[1] != channels or x.shape[3] != joints:
        raise ConfigError(f"the model expects input (N, {channels}, T, {joints}), got {tuple(x.shape)}: "
                          "does the clip's layout match the model's?")
