"""The repair policy for keypoints: a joint with a NaN/inf coordinate is masked, and every masked
joint's coordinates are 0 (missing points are masks, not values). Used by every reader and by the
``.pose`` reading of :mod:`gspmc.video.posefile`."""

from __future__ import annotations

import numpy as np


def repair_joints(coords: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the repair policy to (..., V, D) coords and their (..., V) mask (any leading dims).

    Returns float32 coords with non-finite joints masked and every masked joint set to 0, the
    updated bool mask, and a (..., V) bool array marking the joints that were non-finite.
    Vectorised: works on a whole (N, T, V, D) batch at once.
    """
    coords = np.asarray(coords, dtype=np.float32)
    nonfinite = ~np.isfinite(coords).all(axis=-1)  # (..., V)
    mask = np.asarray(mask, dtype=bool) & ~nonfinite
    coords = np.where(mask[..., None], coords, np.float32(0.0)).astype(np.float32, copy=False)
    return coords, mask, nonfinite
