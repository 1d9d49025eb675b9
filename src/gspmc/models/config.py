"""Skeleton-encoder configuration and its named profiles (one place for model sizes)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from gspmc.errors import ConfigError

from .ctrgc import IMPLEMENTATIONS


@dataclass(frozen=True)
class ModelConfig:
    """Size and options of the CTR-GCN skeleton encoder (defaults: the paper-size ``full`` profile)."""

    # output channels of each CTR-GCN block; the last one is the feature size D
    channels: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    # temporal stride of each block (2 halves T); same length as `channels`
    strides: tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    # input channels per joint: (x, y, confidence/mask)
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
    # dropout before the classifier (CTR-GCN default: 0)
    dropout: float = 0.0
    # CTR-GC kernel: "fast" (default) or "reference" (the direct formulation, for tests); same weights
    ctrgc: str = "fast"

    def __post_init__(self) -> None:
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

    @property
    def feature_dim(self) -> int:
        """D, the size of the pooled features (the last block's channels)."""
        return self.channels[-1]

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from a plain dict (e.g. YAML); lists become tuples; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown ModelConfig field(s) {unknown}; known: {sorted(known)}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean)


# Named profiles. `full` is the paper-size CTR-GCN (10 blocks, 64-64-64-64-128-128-128-256-256-256).
# `cpu-small` is sized so that one traduttore-protocol training run (~2,900 clips, T=20, V=55) takes a few
# minutes on 2 CPU cores; its measured cost is in docs/benchmarks.md ("Skeleton encoder speed").
PROFILES: dict[str, ModelConfig] = {
    "full": ModelConfig(),
    "cpu-small": ModelConfig(
        channels=(32, 32, 64, 64, 128, 128),
        strides=(1, 1, 2, 1, 2, 1),
    ),
}


def get_profile(name: str, **overrides: object) -> ModelConfig:
    """The named profile, optionally with some fields replaced (e.g. ``ctrgc="reference"``)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown model profile {name!r}; known: {sorted(PROFILES)}")
    base = {f.name: getattr(PROFILES[name], f.name) for f in fields(ModelConfig)}
    base.update(overrides)
    return ModelConfig.from_dict(base)


def list_profiles() -> list[str]:
    """Names of the registered profiles."""
    return sorted(PROFILES)


__all__ = ["ModelConfig", "PROFILES", "get_profile", "list_profiles"]
