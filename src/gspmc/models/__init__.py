"""gspmc.models: the CTR-GCN skeleton encoder (see docs/architecture.md).

``build_model(cfg, num_classes, layout)`` builds a :class:`CTRGCN` for a keypoint layout;
``CTRGCN(cfg, num_classes, adjacency, parts)`` builds one from a (K, V, V) adjacency and part index
arrays directly. CTR-GC has a fast implementation (default) and the direct reference one.
"""

from .config import PROFILES, ModelConfig, get_profile, list_profiles
from .ctrgc import CTRGC, CTRGCParams, ctrgc_fast, ctrgc_reference
from .ctrgcn import CTRGCN, Features, build_model, part_pooling_matrix
from .stats import count_parameters, flops_per_clip

__all__ = [
    "CTRGC",
    "CTRGCN",
    "PROFILES",
    "CTRGCParams",
    "Features",
    "ModelConfig",
    "build_model",
    "count_parameters",
    "ctrgc_fast",
    "ctrgc_reference",
    "flops_per_clip",
    "get_profile",
    "list_profiles",
    "part_pooling_matrix",
]
