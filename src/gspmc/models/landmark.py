"""Landmark encoder: per-part frame tokens through depthwise Conv1D + Transformer blocks over frames.

The family the Kaggle "Isolated Sign Language Recognition" competition (Google, 2023) was won with on
MediaPipe landmarks, written from the public facts of the 1st-place write-up (no code copied): per
frame, the landmarks' x, y (already centred and scaled by the input pipeline) and their lag-1 / lag-2
frame differences are embedded into one token; a stack of 1D depthwise-convolution blocks and
Transformer encoder blocks runs over the frames; variable length is handled by masking, not padding;
drop-path and a late dropout before the classifier regularise it; ~1.85M parameters.

What is ours (GSP-MC needs per-part features, Liang et al., arXiv 2505.02304, Eq. 11): the frame
token is built per part group. Each part of ``layout.parts`` has its own embedding (its joints only);
the conv / Transformer stack is shared by the parts but runs on each part's token sequence separately,
so a part's feature S_p depends on that part's joints only. The global feature S_g then fuses the
parts frame by frame (concatenation, a linear map, ``fusion_depth`` Transformer blocks) and averages
over the clip's frames::

    x (N, C, T, V), channels (x, y[, hx, hy], c)                         c = observation mask
    features  [values, values[t] - values[t - k] for k in frame_diffs, c]  (N, F, T, V)
    part p    Linear(V_p * F -> D) + LayerNorm on its joints             (N, T, D)     per part
    stack     depth x (convs_per_stage x ConvBlock, AttentionBlock)       (N * P, T, D) shared
    S_p       LayerNorm, masked mean over frames                          (N, P, D)
    fusion    concat parts -> Linear(P * D -> D), fusion_depth x AttentionBlock, LayerNorm
    S_g       masked mean over frames                                     (N, D)
    logits    Linear(late_dropout(dropout(S_g)))                          (N, K)

Padding. A clip's frames are its first ``length`` frames; ``length`` is given (``lengths``) or is
the last frame in which any joint's mask c is non-zero (at least 1). Everything after that is
padding and never reaches a valid frame: the frame differences look back only; the input of every
depthwise convolution is zeroed at padded frames (so a padded frame reads exactly as the zero padding
of a shorter input); padded frames are masked out as attention keys and from the poolings; all
normalisations are per-frame LayerNorms. The same clip with any amount of trailing padding gives the
same outputs (tests/models/test_landmark.py).

References: Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (arXiv 1706.03762), Sec. 3.2
(scaled dot-product, multi-head attention), with pre-norm blocks (Xiong et al., arXiv 2002.04745);
depthwise separable convolution as in MobileNets (Howard et al., arXiv 1704.04861); stochastic depth
(Huang et al., ECCV 2016, arXiv 1603.09382).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gspmc.errors import ConfigError

from .config import ModelConfig
from .ctrgcn import Features, layout_parts, part_pooling_matrix
from .inputs import check_input

if TYPE_CHECKING:  # pragma: no cover - typing only; gspmc.pose is imported lazily in build_landmark
    from gspmc.pose.layouts import Layout

__all__ = [
    "AttentionBlock",
    "ConvBlock",
    "DropPath",
    "LandmarkNet",
    "build_landmark",
    "frame_differences",
    "masked_mean",
    "valid_frames",
]


# ------------------------------------------------------------------------------------------------
# input: padding and frame differences


def valid_frames(x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """1.0 on a clip's frames, 0.0 on its trailing padding: (N, C, T, V) -> (N, T), dtype of ``x``.

    Without ``lengths`` a clip's length is the last frame in which the mask channel (the last one, c)
    is non-zero at some joint; a clip with nothing observed keeps its first frame (length >= 1), so
    the poolings and the attention always have a frame. Frames are counted with a cumulative sum
    rather than ``arange(T)`` so that a traced / exported graph keeps T dynamic.

    Args:
        x: (N, C, T, V) model input, channel C - 1 = c.
        lengths: optional (N,) number of frames per clip (clamped to [1, T]).
    """
    ones = torch.ones_like(x[:, -1, :, 0])  # (N, T)
    pos = ones.cumsum(1)  # (N, T): 1, 2, ..., T
    if lengths is None:
        seen = (x[:, -1] > 0).any(2).to(x.dtype)  # (N, T)
        last = (seen * pos).amax(1, keepdim=True)  # (N, 1)
    else:
        last = lengths.to(x.dtype).reshape(-1, 1)  # (N, 1)
    return (pos <= last.clamp(min=1)).to(x.dtype)


def frame_differences(values: Tensor, observed: Tensor, lags: Sequence[int]) -> Tensor:
    """Backward frame differences ``d_k[t] = values[t] - values[t - k]`` for each lag k.

    ``d_k[t]`` is 0 where ``t < k`` or the joint is unobserved at t or at t - k (a joint appearing is
    not a movement), as the motion stream does (gspmc.pose.streams.motion, there forward). Looking
    back only, a frame's differences never read the padding after it.

    Args:
        values: (N, C, T, V) coordinates.
        observed: (N, T, V) 1.0 where the joint was observed, else 0.0.
        lags: the lags k >= 1.

    Returns:
        (N, C * len(lags), T, V): the lags' differences, concatenated on channels in ``lags`` order.
    """
    out = []
    for k in lags:
        prev = F.pad(values, (0, 0, k, 0))[:, :, :-k]  # (N, C, T, V): values[t - k], 0 for t < k
        prev_obs = F.pad(observed, (0, 0, k, 0))[:, :-k]  # (N, T, V)
        both = (observed * prev_obs).unsqueeze(1)  # (N, 1, T, V)
        out.append((values - prev) * both)
    return torch.cat(out, 1) if out else values[:, :0]


def masked_mean(h: Tensor, m: Tensor) -> Tensor:
    """Mean over frames of the valid ones: h (B, T, D), m (B, T, 1) 0/1 -> (B, D)."""
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


# ------------------------------------------------------------------------------------------------
# blocks (all operate on (B, T, D) with a frame mask m (B, T, 1))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, drop a sample's residual branch with
    probability ``p`` and scale the kept ones by 1 / (1 - p); identity in eval mode or with p = 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, y: Tensor) -> Tensor:
        """(B, ...) -> (B, ...)."""
        if not self.training or self.p == 0.0:
            return y
        keep = y.new_empty((y.shape[0],) + (1,) * (y.dim() - 1)).bernoulli_(1.0 - self.p)  # (B, 1, ...)
        return y * keep / (1.0 - self.p)


class ConvBlock(nn.Module):
    """Pre-norm depthwise Conv1D block: x + drop_path(W_2 silu(LN(dwconv(mask * silu(W_1 LN(x)))))).

    W_1 widens D to ``expand * D``, the depthwise convolution (one temporal filter per channel, kernel
    k, centred or causal) mixes frames, W_2 projects back. The convolution's input is zeroed at padded
    frames, so padding reads as the convolution's own zero padding.
    """

    def __init__(self, dim: int, expand: int, kernel: int, causal: bool, drop_path: float) -> None:
        super().__init__()
        hidden = dim * expand
        self.norm = nn.LayerNorm(dim)
        self.widen = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv1d(hidden, hidden, kernel, groups=hidden)
        self.pad = (kernel - 1, 0) if causal else (kernel // 2, kernel // 2)
        self.conv_norm = nn.LayerNorm(hidden)
        self.project = nn.Linear(hidden, dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, m: Tensor) -> Tensor:
        """x (B, T, D), m (B, T, 1) -> (B, T, D)."""
        y = F.silu(self.widen(self.norm(x))) * m  # (B, T, H), padded frames 0
        y = F.pad(y.transpose(1, 2), self.pad)  # (B, H, T + k - 1)
        y = self.dwconv(y).transpose(1, 2)  # (B, T, H)
        y = self.project(F.silu(self.conv_norm(y)))  # (B, T, D)
        return x + self.drop_path(y)


class AttentionBlock(nn.Module):
    """Pre-norm Transformer encoder block (Vaswani et al. 2017, Sec. 3.2-3.3; pre-norm as Xiong et al.):

        x = x + drop_path(MHA(LN(x)))   softmax(Q K^T / sqrt(d_h)) V per head, padded keys excluded
        x = x + drop_path(MLP(LN(x)))   W_2 silu(W_1 .), hidden ``expand * D``

    The attention is written out (not ``scaled_dot_product_attention``) so that export needs no
    special operator; padded keys get a score of -inf (every clip has >= 1 valid frame).
    """

    def __init__(self, dim: int, heads: int, expand: int, drop_path: float) -> None:
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, expand * dim), nn.SiLU(), nn.Linear(expand * dim, dim))
        self.drop_path = DropPath(drop_path)

    def attend(self, x: Tensor, m: Tensor) -> Tensor:
        """Multi-head self-attention over frames: x (B, T, D), m (B, T, 1) -> (B, T, D)."""
        b, _, d = x.shape
        qkv = self.qkv(x).reshape(b, -1, 3, self.heads, d // self.heads)  # (B, T, 3, H, D_h)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, D_h)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale  # (B, H, T, T)
        keys = m.reshape(b, 1, 1, -1) > 0  # (B, 1, 1, T)
        attn = scores.masked_fill(~keys, float("-inf")).softmax(-1)  # (B, H, T, T)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, -1, d)  # (B, T, D)
        return self.out(y)

    def forward(self, x: Tensor, m: Tensor) -> Tensor:
        """x (B, T, D), m (B, T, 1) -> (B, T, D)."""
        x = x + self.drop_path(self.attend(self.norm1(x), m))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def _stack(cfg: ModelConfig) -> nn.ModuleList:
    """``depth`` stages of ``convs_per_stage`` ConvBlocks then one AttentionBlock (the shared part stack)."""
    blocks: list[nn.Module] = []
    for _ in range(cfg.depth):
        for _ in range(cfg.convs_per_stage):
            blocks.append(ConvBlock(cfg.dim, cfg.expand, cfg.conv_kernel, cfg.causal, cfg.drop_path))
        blocks.append(AttentionBlock(cfg.dim, cfg.heads, cfg.expand, cfg.drop_path))
    return nn.ModuleList(blocks)


# ------------------------------------------------------------------------------------------------
# the network


def _per_part(m: Tensor, parts: int) -> Tensor:
    """The frame mask of each clip repeated for its parts: (N, T, 1) -> (N * P, T, 1), clip-major."""
    return m.unsqueeze(1).expand(-1, parts, -1, -1).reshape(-1, m.shape[1], 1)  # (N * P, T, 1)


def _check_parts(parts: Sequence[Sequence[int] | np.ndarray], num_joints: int) -> list[np.ndarray]:
    """Part index arrays, checked: valid parts (see ``part_pooling_matrix``) that cover every joint."""
    pool = part_pooling_matrix(parts, num_joints)  # (V, P); raises on empty / repeated / bad indices
    uncovered = torch.nonzero(pool.sum(1) == 0).flatten().tolist()  # joints whose row of (V, P) is 0
    if uncovered:
        raise ConfigError(
            f"the landmark model reads joints only through their parts; joints {uncovered} are in no part"
        )
    return [np.asarray(p, dtype=np.int64).reshape(-1) for p in parts]


class LandmarkNet(nn.Module):
    """Landmark Conv1D + Transformer encoder + classifier with S_g and S_p (see the module docstring).

    The same interface as :class:`gspmc.models.CTRGCN`: ``forward`` (logits), ``encode`` (Features),
    ``global_features`` (S_g), ``classify``; ``backbone`` returns S_g as (N, D, 1, 1) so callers
    written for CTR-GCN's ``backbone(x).mean((2, 3))`` get S_g unchanged.

    Args:
        cfg: model options (``backbone == "landmark"`` fields).
        num_classes: K, the classifier's outputs.
        num_joints: V of the input.
        parts: joint index arrays, one per part group, in a fixed order (S_p follows it); together
            they must cover every joint.
        part_names: optional names of the parts (same order as ``parts``).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        num_classes: int,
        num_joints: int,
        parts: Sequence[Sequence[int] | np.ndarray],
        part_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        if part_names is not None and len(part_names) != len(parts):
            raise ConfigError(f"{len(part_names)} part names for {len(parts)} parts")
        idx = _check_parts(parts, num_joints)
        self.cfg = cfg
        self.num_classes = num_classes
        self.num_joints = num_joints
        self.part_names = tuple(part_names) if part_names is not None else tuple(f"part{i}" for i in range(len(idx)))
        coords = cfg.in_channels - 1
        self.frame_features = coords * (1 + len(cfg.frame_diffs)) + 1  # F: values, differences, c
        for p, joints in enumerate(idx):
            self.register_buffer(f"part_index_{p}", torch.from_numpy(joints), persistent=False)
        self.embed = nn.ModuleList(
            nn.Sequential(nn.Linear(len(j) * self.frame_features, cfg.dim, bias=False), nn.LayerNorm(cfg.dim))
            for j in idx
        )
        self.stack = _stack(cfg)
        self.part_norm = nn.LayerNorm(cfg.dim)
        self.fuse = nn.Sequential(nn.Linear(len(idx) * cfg.dim, cfg.dim), nn.LayerNorm(cfg.dim))
        self.fusion = nn.ModuleList(
            AttentionBlock(cfg.dim, cfg.heads, cfg.expand, cfg.drop_path) for _ in range(cfg.fusion_depth)
        )
        self.global_norm = nn.LayerNorm(cfg.dim)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.late_dropout = nn.Dropout(cfg.late_dropout) if cfg.late_dropout > 0 else nn.Identity()
        self.late_dropout_active = cfg.late_dropout_epoch == 0  # set per epoch by set_epoch()
        self.fc = nn.Linear(cfg.dim, num_classes)
        self.apply(_init_weights)

    @property
    def feature_dim(self) -> int:
        """D, the width of S_g and of each part feature."""
        return self.cfg.dim

    @property
    def num_parts(self) -> int:
        """P, the number of part features."""
        return len(self.embed)

    def set_epoch(self, epoch: int) -> None:
        """Switch the late dropout on from epoch ``cfg.late_dropout_epoch`` (0-based); call it at the
        start of every training epoch (a resumed run calls it again, so the state needs no saving)."""
        self.late_dropout_active = epoch >= self.cfg.late_dropout_epoch

    def _check_input(self, x: Tensor) -> None:
        check_input(x, self.cfg.in_channels, self.num_joints)

    def frame_inputs(self, x: Tensor) -> Tensor:
        """Per-joint frame features (N, C, T, V) -> (N, F, T, V): values, their frame differences, c."""
        values, c = x[:, :-1], x[:, -1]  # (N, C - 1, T, V), (N, T, V)
        diffs = frame_differences(values, (c > 0).to(x.dtype), self.cfg.frame_diffs)  # (N, (C-1) L, T, V)
        return torch.cat([values, diffs, c.unsqueeze(1)], 1)  # (N, F, T, V)

    def part_streams(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The shared stack over each part's tokens: (N, C, T, V) -> (h (N, P, T, D), m (N, T, 1)).

        ``h`` is layer-normalised; its rows at padded frames are not meaningful (``m`` is 0 there).
        """
        self._check_input(x)
        m = valid_frames(x, lengths).unsqueeze(2)  # (N, T, 1)
        feats = self.frame_inputs(x)  # (N, F, T, V)
        tokens = []
        for p, embed in enumerate(self.embed):
            joints = feats.index_select(3, getattr(self, f"part_index_{p}"))  # (N, F, T, V_p)
            flat = joints.permute(0, 2, 3, 1).flatten(2)  # (N, T, V_p * F)
            tokens.append(embed(flat))  # (N, T, D)
        n, _, d = tokens[0].shape
        h = torch.stack(tokens, 1).reshape(-1, m.shape[1], d)  # (N * P, T, D)
        mp = _per_part(m, self.num_parts)  # (N * P, T, 1)
        h = h * mp
        for block in self.stack:
            h = block(h, mp)  # (N * P, T, D)
        h = self.part_norm(h).reshape(n, self.num_parts, -1, d)  # (N, P, T, D)
        return h, m

    def _pool(self, h: Tensor, m: Tensor) -> Features:
        """Part streams h (N, P, T, D), mask m (N, T, 1) -> Features(S_g (N, D), S_p (N, P, D))."""
        n, p, t, d = h.shape
        parts = masked_mean(h.reshape(n * p, t, d), _per_part(m, p)).reshape(n, p, d)  # (N, P, D)
        g = self.fuse(h.permute(0, 2, 1, 3).flatten(2))  # (N, T, P * D) -> (N, T, D)
        for block in self.fusion:
            g = block(g, m)  # (N, T, D)
        global_ = masked_mean(self.global_norm(g), m)  # (N, D)
        return Features(global_, parts)

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> Features:
        """S_g (N, D) and S_p (N, P, D) in the parts' order; ``lengths`` (N,) optional (else from c)."""
        return self._pool(*self.part_streams(x, lengths))

    def global_features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """S_g (N, D), the classifier's input."""
        return self.encode(x, lengths).global_

    def backbone(self, x: Tensor) -> Tensor:
        """S_g as (N, D, 1, 1): ``backbone(x).mean((2, 3))`` is S_g, as for CTR-GCN (compatibility)."""
        return self.global_features(x)[:, :, None, None]  # (N, D, 1, 1)

    def classify(self, global_: Tensor) -> Tensor:
        """(N, D) -> logits (N, num_classes); late dropout only once ``set_epoch`` switched it on."""
        h = self.dropout(global_)
        if self.late_dropout_active:
            h = self.late_dropout(h)
        return self.fc(h)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(N, C, T, V) -> logits (N, num_classes)."""
        return self.classify(self.global_features(x, lengths))


def _init_weights(module: nn.Module) -> None:
    """Linear weights N(0, 0.02) (truncated at 2 sigma), biases 0; LayerNorm and convs keep torch's init."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def build_landmark(cfg: ModelConfig, num_classes: int, layout: Layout | str) -> LandmarkNet:
    """A :class:`LandmarkNet` for a keypoint layout, parts in ``layout.parts`` order."""
    parts, names, num_joints = layout_parts(layout)
    return LandmarkNet(cfg, num_classes, num_joints, parts, part_names=names)
