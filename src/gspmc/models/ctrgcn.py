"""CTR-GCN skeleton encoder with global and per-part pooling (GSP-MC's skeleton branch).

Backbone: Chen et al., "Channel-wise Topology Refinement Graph Convolution for Skeleton-Based Action
Recognition", ICCV 2021 (arXiv 2107.12213): Sec. 3.3 (CTR-GC, see :mod:`gspmc.models.ctrgc`) and
Sec. 3.4 (the network: blocks of a CTR-GC unit and a multiscale temporal module, residual links,
10 blocks 64-64-64-64-128-128-128-256-256-256 with temporal stride 2 at blocks 5 and 8).
Pooling: Liang et al., GSP-MC (arXiv 2505.02304): S_g is the average over time and all joints, S_p the
average over time and the joints of each part group. Written from the papers; no code copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from gspmc.errors import ConfigError

from .config import ModelConfig
from .ctrgc import CTRGC
from .inputs import check_input

if TYPE_CHECKING:  # pragma: no cover - typing only; gspmc.pose is imported lazily in build_ctrgcn
    from gspmc.pose.layouts import Layout


class Features(NamedTuple):
    """Pooled skeleton features: S_g (N, D) and S_p (N, P, D), parts in the layout's part order."""

    global_: Tensor
    parts: Tensor


def _conv_init(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def _bn(channels: int, weight: float = 1.0) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    nn.init.constant_(bn.weight, weight)
    nn.init.zeros_(bn.bias)
    return bn


class ConvBN(nn.Sequential):
    """Conv2d with a (kernel, 1) temporal kernel, then BatchNorm: (N, C_in, T, V) -> (N, C_out, T/s, V).

    The conv has no bias: the BatchNorm right after it would cancel one (its gradient is zero).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, dilation: int = 1) -> None:
        pad = (kernel - 1) * dilation // 2
        conv = nn.Conv2d(
            in_ch,
            out_ch,
            (kernel, 1),
            stride=(stride, 1),
            padding=(pad, 0),
            dilation=(dilation, 1),
            bias=False,
        )
        super().__init__(_conv_init(conv), _bn(out_ch))


class GraphConvUnit(nn.Module):
    """CTR-GC, BatchNorm, residual (1x1 conv + BN when widths differ), ReLU (paper Sec. 3.4, Fig. 3)."""

    def __init__(self, in_ch: int, out_ch: int, adjacency: Tensor, cfg: ModelConfig) -> None:
        super().__init__()
        self.gc = CTRGC(in_ch, out_ch, adjacency, cfg.learn_adjacency, cfg.rel_reduction, cfg.ctrgc)
        # the residual branch's BN starts near zero so each unit starts close to its shortcut
        self.bn = _bn(out_ch, 1e-6)
        self.down: nn.Module = nn.Identity() if in_ch == out_ch else ConvBN(in_ch, out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> (N, C_out, T, V)."""
        return self.relu(self.bn(self.gc(x)) + self.down(x))


class MultiScaleTemporalConv(nn.Module):
    """Multiscale temporal modelling (paper Sec. 3.4): parallel branches, outputs concatenated.

    Each branch starts with a 1x1 conv reducing the width; one branch per dilation then applies a
    ``kernel`` x 1 temporal conv with that dilation; one branch applies a 3 x 1 max-pool; the last
    branch is the 1x1 conv alone. The temporal stride is applied inside every branch.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, dilations: Sequence[int]) -> None:
        super().__init__()
        n_branches = len(dilations) + 2
        width = out_ch // n_branches
        last = out_ch - width * (n_branches - 1)  # the 1x1 branch takes the remainder
        branches: list[nn.Module] = []
        for d in dilations:
            branches.append(
                nn.Sequential(
                    ConvBN(in_ch, width), nn.ReLU(inplace=True), ConvBN(width, width, kernel, stride, d)
                )
            )
        branches.append(
            nn.Sequential(
                ConvBN(in_ch, width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)),
                _bn(width),
            )
        )
        branches.append(ConvBN(in_ch, last, 1, stride))
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> (N, C_out, ceil(T / stride), V)."""
        return torch.cat([b(x) for b in self.branches], 1)


class Block(nn.Module):
    """One CTR-GCN block: relu(temporal(graph(x)) + residual(x)) (paper Sec. 3.4)."""

    def __init__(
        self, in_ch: int, out_ch: int, adjacency: Tensor, stride: int, cfg: ModelConfig, residual: bool = True
    ) -> None:
        super().__init__()
        self.gcn = GraphConvUnit(in_ch, out_ch, adjacency, cfg)
        self.tcn = MultiScaleTemporalConv(out_ch, out_ch, cfg.temporal_kernel, stride, cfg.dilations)
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_ch == out_ch and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = ConvBN(in_ch, out_ch, 1, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> (N, C_out, ceil(T / stride), V)."""
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


def part_pooling_matrix(parts: Sequence[Sequence[int] | np.ndarray], num_joints: int) -> Tensor:
    """(V, P) matrix whose column p averages the joints of part p (1/|part| at its joints, else 0).

    Raises:
        ConfigError: a part is empty, repeats a joint, or names a joint outside [0, V).
    """
    pool = torch.zeros(num_joints, len(parts))
    for p, idx in enumerate(parts):
        idx_arr = np.asarray(idx, dtype=np.int64).reshape(-1)
        if idx_arr.size == 0:
            raise ConfigError(f"part {p} has no joints")
        if idx_arr.min() < 0 or idx_arr.max() >= num_joints:
            raise ConfigError(f"part {p} has joint indices outside [0, {num_joints}): {idx_arr.tolist()}")
        if np.unique(idx_arr).size != idx_arr.size:
            raise ConfigError(f"part {p} repeats a joint: {idx_arr.tolist()}")
        pool[torch.from_numpy(idx_arr), p] = 1.0 / idx_arr.size
    return pool


class CTRGCN(nn.Module):
    """CTR-GCN encoder + classifier, with GSP-MC's global (S_g) and per-part (S_p) pooled features.

    Args:
        cfg: model size and options.
        num_classes: K, the classifier's outputs.
        adjacency: (K_sub, V, V) initial topologies (e.g. ``gspmc.pose.graph.adjacency(layout)``).
        parts: joint index arrays, one per part group, in a fixed order (S_p follows it).
        part_names: optional names of the parts (kept for reports; same order as ``parts``).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        num_classes: int,
        adjacency: np.ndarray | Tensor,
        parts: Sequence[Sequence[int] | np.ndarray],
        part_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        adj = torch.as_tensor(np.asarray(adjacency, dtype=np.float32))
        if adj.ndim != 3 or adj.shape[1] != adj.shape[2]:
            raise ConfigError(f"adjacency must be (K, V, V), got shape {tuple(adj.shape)}")
        if not torch.isfinite(adj).all():
            raise ConfigError("adjacency has NaN or inf entries")
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        if part_names is not None and len(part_names) != len(parts):
            raise ConfigError(f"{len(part_names)} part names for {len(parts)} parts")
        self.cfg = cfg
        self.num_classes = num_classes
        self.num_joints = int(adj.shape[1])
        self.part_names = (
            tuple(part_names) if part_names is not None else tuple(f"part{i}" for i in range(len(parts)))
        )
        self.data_bn: nn.Module = (
            nn.BatchNorm1d(cfg.in_channels * self.num_joints) if cfg.data_bn else nn.Identity()
        )
        blocks = []
        in_ch = cfg.in_channels
        for i, (out_ch, stride) in enumerate(zip(cfg.channels, cfg.strides, strict=True)):
            blocks.append(Block(in_ch, out_ch, adj, stride, cfg, residual=i > 0))
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.register_buffer("part_pool", part_pooling_matrix(parts, self.num_joints))  # (V, P)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.fc = nn.Linear(cfg.channels[-1], num_classes)
        nn.init.normal_(self.fc.weight, 0.0, (2.0 / num_classes) ** 0.5)
        nn.init.zeros_(self.fc.bias)

    @property
    def feature_dim(self) -> int:
        """D, the width of S_g and of each part feature (the last block's channels)."""
        return self.cfg.channels[-1]

    def _check_input(self, x: Tensor) -> None:
        check_input(x, self.cfg.in_channels, self.num_joints)

    def backbone(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> last block's features (N, D, T', V)."""
        self._check_input(x)
        n, c, t, v = x.shape
        if self.cfg.data_bn:
            x = x.permute(0, 3, 1, 2).reshape(n, v * c, t)  # (N, V*C, T)
            x = self.data_bn(x)
            x = x.reshape(n, v, c, t).permute(0, 2, 3, 1)  # (N, C, T, V)
        return self.blocks(x.contiguous())

    def global_features(self, x: Tensor) -> Tensor:
        """S_g (N, D): the last block's features averaged over time and joints (the classifier's input)."""
        return self.backbone(x).mean((2, 3))  # (N, D)

    def set_epoch(self, epoch: int) -> None:
        """No per-epoch state in CTR-GCN (the landmark family's late dropout has one); for a uniform loop."""

    def encode(self, x: Tensor) -> Features:
        """S_g (N, D): mean over time and joints; S_p (N, P, D): mean over time and each part's joints."""
        h = self.backbone(x).mean(2)  # (N, D, V)
        global_ = h.mean(2)  # (N, D)
        parts = torch.matmul(h, self.part_pool).transpose(1, 2)  # (N, P, D)
        return Features(global_, parts)

    def classify(self, global_: Tensor) -> Tensor:
        """(N, D) -> logits (N, num_classes)."""
        return self.fc(self.dropout(global_))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T, V) -> logits (N, num_classes); the recognition path (no part pooling)."""
        return self.classify(self.global_features(x))


def layout_parts(layout: Layout | str) -> tuple[list[np.ndarray], list[str], int]:
    """A layout's part joint indices (in ``layout.parts`` order), part names and V."""
    from gspmc.pose.layouts import get_layout  # lazy: models work without pose for tests

    lay = get_layout(layout) if isinstance(layout, str) else layout
    parts = [np.array([lay.index(j) for j in joints], dtype=np.int64) for joints in lay.parts.values()]
    return parts, list(lay.parts), lay.num_joints


def build_ctrgcn(cfg: ModelConfig, num_classes: int, layout: Layout | str) -> CTRGCN:
    """A CTR-GCN for a keypoint layout: adjacency from ``gspmc.pose.graph``, parts in ``layout.parts`` order."""
    from gspmc.pose.graph import adjacency  # lazy: models work without pose for tests
    from gspmc.pose.layouts import get_layout

    lay = get_layout(layout) if isinstance(layout, str) else layout
    parts, names, _ = layout_parts(lay)
    return CTRGCN(cfg, num_classes, adjacency(lay), parts, part_names=names)
