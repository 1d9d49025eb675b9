"""gspmc.losses: the multi-positive contrastive loss (Eq. 7-10) and the GSP-MC objective
(Eq. 11-12). See docs/mc.md."""

from gspmc.losses.contrastive import MultiPositiveContrastive, multi_positive_targets
from gspmc.losses.objective import (
    TERMS,
    GSPMCObjective,
    MCOptions,
    default_part_map,
    resolve_part_map,
    total_loss,
)

__all__ = [
    "TERMS",
    "GSPMCObjective",
    "MCOptions",
    "MultiPositiveContrastive",
    "default_part_map",
    "multi_positive_targets",
    "resolve_part_map",
    "total_loss",
]
