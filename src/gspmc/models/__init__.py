"""gspmc.models: the skeleton encoders (see docs/architecture.md).

Two backbones behind one interface (``forward(x) -> logits``, ``encode(x) -> Features``,
``global_features(x) -> S_g``, ``classify(S_g)``, ``set_epoch(epoch)``, ``num_classes``,
``feature_dim``, ``part_names``), chosen by ``ModelConfig.backbone``:

- ``"ctrgcn"``: :class:`CTRGCN` (graph convolutions; CTR-GC has a fast implementation, the default,
  and the direct reference one);
- ``"landmark"``: :class:`LandmarkNet` (depthwise Conv1D + Transformer blocks over frames).

``build_model(cfg, num_classes, layout)`` builds the configured one for a keypoint layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import BACKBONES, PROFILES, ModelConfig, get_profile, list_profiles
from .ctrgc import CTRGC, CTRGCParams, ctrgc_fast, ctrgc_reference
from .ctrgcn import CTRGCN, Features, build_ctrgcn, part_pooling_matrix
from .landmark import LandmarkNet, build_landmark
from .stats import count_parameters, flops_per_clip

if TYPE_CHECKING:  # pragma: no cover - typing only
    from gspmc.pose.layouts import Layout


def build_model(cfg: ModelConfig, num_classes: int, layout: Layout | str) -> CTRGCN | LandmarkNet:
    """The encoder ``cfg.backbone`` names, for a keypoint layout (parts in ``layout.parts`` order)."""
    if cfg.backbone == "landmark":
        return build_landmark(cfg, num_classes, layout)
    return build_ctrgcn(cfg, num_classes, layout)


__all__ = [
    "BACKBONES",
    "CTRGC",
    "CTRGCN",
    "PROFILES",
    "CTRGCParams",
    "Features",
    "LandmarkNet",
    "ModelConfig",
    "build_ctrgcn",
    "build_landmark",
    "build_model",
    "count_parameters",
    "ctrgc_fast",
    "ctrgc_reference",
    "flops_per_clip",
    "get_profile",
    "list_profiles",
    "part_pooling_matrix",
]
