"""Skeleton-encoder configuration and its named profiles (one place for model sizes).

One :class:`ModelConfig` describes either backbone (``backbone``): ``"ctrgcn"`` (CTR-GCN,
:mod:`gspmc.models.ctrgcn`) or ``"landmark"`` (1D depthwise conv + Transformer over frames,
:mod:`gspmc.models.landmark`). Each field's comment says which backbone reads it; the other one
ignores it. Checkpoints store the fields (``dataclasses.asdict``); a stored config without
``backbone`` (written before the landmark family existed) loads as CTR-GCN.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from gspmc.errors import ConfigError

from .ctrgc import IMPLEMENTATIONS

BACKBONES = ("ctrgcn", "landmark")


@dataclass(frozen=True)
class ModelConfig:
    """Size and options of the skeleton encoder (defaults: the paper-size CTR-GCN ``full`` profile;
    the landmark fields' defaults are the ~1.8M-parameter ``landmark`` profile)."""

    # which encoder: "ctrgcn" (graph convolutions over joints) | "landmark" (conv + Transformer over frames)
    backbone: str = "ctrgcn"
    # --- CTR-GCN (backbone "ctrgcn") ---
    # output channels of each CTR-GCN block; the last one is the feature size D
    channels: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    # temporal stride of each block (2 halves T); same length as `channels`
    strides: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    # --- both backbones ---
    # input channels per joint: (x, y[, hx, hy], c); the last one is the observation mask c
    in_channels: int = 3
    # kernel size of the dilated temporal convolutions of the multiscale temporal module
    temporal_kernel: int = 5
    # one dilated-conv branch per dilation; plus a max-pool branch and a 1x1 branch (CTR-GCN paper: 1, 2)
    dilations: tuple[int, ...] = (1, 2)
    # correlation width R = max(C_in // rel_reduction, 8) in each CTR-GC
    rel_reduction: int = 8
    # the shared topologies A_k are trained (CTR-GCN) or kept fixed
    learn_adjacency: bool = True
    # batch-normalise the raw input per (joint, channel) before the first block
    data_bn: bool = True
    # dropout before the classifier, always on in training (CTR-GCN default: 0); both backbones
    dropout: float = 0.0
    # CTR-GC kernel: "fast" (default) or "reference" (the direct formulation, for tests); same weights
    ctrgc: str = "fast"
    # --- landmark (backbone "landmark") ---
    # D: width of every frame token, of the global feature and of each part feature
    dim: int = 184
    # stages of the shared part stack; each is `convs_per_stage` conv blocks then one Transformer block
    depth: int = 2
    # depthwise Conv1D blocks per stage
    convs_per_stage: int = 3
    # attention heads of every Transformer block (dim must be divisible by it)
    heads: int = 4
    # temporal kernel of the depthwise convolutions (odd unless causal)
    conv_kernel: int = 7
    # hidden width factor of the conv blocks and of the Transformer MLPs
    expand: int = 2
    # causal convolutions (frame t sees frames <= t) instead of centred ones
    causal: bool = False
    # frame differences fed besides the coordinates: lags k give x[t] - x[t - k] (empty: none)
    frame_diffs: tuple[int, ...] = (1, 2)
    # Transformer blocks over the fused frame tokens (all parts of a frame) before the global pooling
    fusion_depth: int = 1
    # stochastic depth: probability to skip each residual branch per sample in training (0: off)
    drop_path: float = 0.0
    # late dropout before the classifier, switched on from epoch `late_dropout_epoch` (0.0: off)
    late_dropout: float = 0.0
    # first (0-based) epoch with late dropout on; the training loop calls model.set_epoch(epoch)
    late_dropout_epoch: int = 0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(f"ModelConfig.backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if not self.channels:
            raise ConfigError("ModelConfig.channels is empty: the encoder needs at least one block")
        if len(self.strides) != len(self.channels):
            raise ConfigError(
                f"ModelConfig.strides has {len(self.strides)} entries but channels has {len(self.channels)}"
            )
        if any(c <= 0 for c in self.channels) or any(s not in (1, 2) for s in self.strides):
            raise ConfigError(f"ModelConfig: channels must be > 0 and strides 1 or 2, got {self}")
        branches = len(self.dilations) + 2
        if any(c < branches for c in self.channels):
            raise ConfigError(
                f"ModelConfig: every block needs >= {branches} channels (one per temporal branch)"
            )
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ConfigError(f"ModelConfig.temporal_kernel must be odd and >= 1, got {self.temporal_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.ctrgc not in IMPLEMENTATIONS:
            raise ConfigError(f"ModelConfig.ctrgc must be one of {IMPLEMENTATIONS}, got {self.ctrgc!r}")
        problems = _landmark_problems(self)
        if problems:
            raise ConfigError("ModelConfig: " + "; ".join(problems))

    @property
    def feature_dim(self) -> int:
        """D, the size of the pooled features (CTR-GCN: the last block's channels; landmark: ``dim``)."""
        return self.dim if self.backbone == "landmark" else self.channels[-1]

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from a plain dict (e.g. YAML); lists become tuples; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown ModelConfig field(s) {unknown}; known: {sorted(known)}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean)


def _landmark_problems(cfg: ModelConfig) -> list[str]:
    """What is wrong with the landmark fields (checked for every backbone: the defaults are valid)."""
    checks = [
        (cfg.backbone != "landmark" or cfg.in_channels >= 2,
         f"the landmark backbone needs in_channels >= 2 (coordinates + the mask c), got {cfg.in_channels}"),
        (cfg.dim >= 1 and cfg.heads >= 1 and cfg.dim % cfg.heads == 0,
         f"dim ({cfg.dim}) must be a positive multiple of heads ({cfg.heads})"),
        (cfg.depth >= 1 and cfg.convs_per_stage >= 0 and cfg.fusion_depth >= 0,
         f"depth must be >= 1, convs_per_stage and fusion_depth >= 0, got {cfg.depth}, "
         f"{cfg.convs_per_stage}, {cfg.fusion_depth}"),
        (cfg.conv_kernel >= 1 and (cfg.causal or cfg.conv_kernel % 2 == 1),
         f"conv_kernel must be >= 1 and odd unless causal, got {cfg.conv_kernel}"),
        (cfg.expand >= 1, f"expand must be >= 1, got {cfg.expand}"),
        (all(k >= 1 for k in cfg.frame_diffs) and len(set(cfg.frame_diffs)) == len(cfg.frame_diffs),
         f"frame_diffs must be distinct lags >= 1, got {cfg.frame_diffs}"),
        (0.0 <= cfg.drop_path < 1.0, f"drop_path must be in [0, 1), got {cfg.drop_path}"),
        (0.0 <= cfg.late_dropout < 1.0, f"late_dropout must be in [0, 1), got {cfg.late_dropout}"),
        (cfg.late_dropout_epoch >= 0, f"late_dropout_epoch must be >= 0, got {cfg.late_dropout_epoch}"),
    ]
    return [msg for ok, msg in checks if not ok]


# Named profiles. `full` is the paper-size CTR-GCN (10 blocks, 64-64-64-64-128-128-128-256-256-256).
# `cpu-small` is sized so that one traduttore-protocol training run (~2,900 clips, T=20, V=55) takes a few
# minutes on 2 CPU cores; its measured cost is in docs/benchmarks.md ("Skeleton encoder speed").
# `landmark` is the conv + Transformer family at ~1.8M parameters (1.84M: gspmc-55, 3 channels, 33 classes), the size
# of the Kaggle ISLR 2023 winner; `landmark-small` is a narrow, shallow one for 2-core CPU runs
# (bench/bench_landmark.py measures both against cpu-small). Regularisers (drop_path, late_dropout) are
# off in both: they are recipe options, switched on through model overrides where validation keeps them.
PROFILES: dict[str, ModelConfig] = {
    "full": ModelConfig(),
    "cpu-small": ModelConfig(
        channels=(32, 32, 64, 64, 128, 128),
        strides=(1, 1, 2, 1, 2, 1),
    ),
    "landmark": ModelConfig(backbone="landmark"),
    "landmark-small": ModelConfig(backbone="landmark", dim=96, depth=1, convs_per_stage=3, heads=4),
}


def get_profile(name: str, **overrides: object) -> ModelConfig:
    """The named profile, optionally with some fields replaced (e.g. ``ctrgc="reference"``)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown model profile {name!r}; known: {sorted(PROFILES)}")
    base = {f.name: getattr(PROFILES[name], f.name) for f in fields(ModelConfig)}
    base.update(overrides)
    return ModelConfig.from_dict(base)


def list_profiles(backbone: str | None = None) -> list[str]:
    """Names of the registered profiles (of one backbone when ``backbone`` is given)."""
    return sorted(name for name, cfg in PROFILES.items() if backbone is None or cfg.backbone == backbone)


__all__ = ["BACKBONES", "ModelConfig", "PROFILES", "get_profile", "list_profiles"]
