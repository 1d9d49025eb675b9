"""The four input streams of skeleton recognisers: joint, bone, joint motion, bone motion.

Following the multi-stream practice of 2s-AGCN / CTR-GCN / SAM-SLR:

* ``joint``: the coordinates themselves.
* ``bone``: ``x[t, v] - x[t, parent(v)]``, the vector from a joint's parent to the joint (the
  layout's tree gives the parents); the root's bone is 0.
* ``joint_motion``: ``x[t + 1, v] - x[t, v]``; the last frame has no successor and is 0.
* ``bone_motion``: the motion of the bone stream.

Each function also derives a confidence ``c`` for its output: a difference is only as observed as
the less observed of its two ends (``min``, which is logical AND for 0/1 masks); the root's bone
keeps the root's own confidence; the last motion frame has confidence 0. Where ``c`` is 0 the values
are 0. All functions work on arrays with any leading dims: coords ``(..., T, V, C)``, confidence
``(..., T, V)``.
"""

from __future__ import annotations

import numpy as np

from gspmc.errors import ConfigError

__all__ = ["STREAMS", "bone", "compute_stream", "motion"]

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


def bone(x: np.ndarray, c: np.ndarray, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone vectors ``x[..., v, :] - x[..., parent(v), :]`` (root: 0) and their confidence.

    Args:
        x: (..., V, C) coordinates.
        c: (..., V) confidence (mask as 0/1 or scores).
        parents: (V,) parent index per joint, -1 for roots.
    """
    parents = np.asarray(parents)
    is_root = parents < 0
    p = np.where(is_root, np.arange(len(parents)), parents)  # roots point at themselves -> 0 bone
    b = x - x[..., p, :]  # (..., V, C)
    cb = np.where(is_root, c, np.minimum(c, c[..., p]))  # (..., V)
    return np.where(cb[..., None] > 0, b, 0).astype(x.dtype, copy=False), cb.astype(c.dtype, copy=False)


def motion(x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame differences ``x[t + 1] - x[t]`` along axis -3 (T), last frame 0, and their confidence.

    Args:
        x: (..., T, V, C) coordinates.
        c: (..., T, V) confidence.
    """
    m = np.zeros_like(x)
    cm = np.zeros_like(c)
    m[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]  # (..., T-1, V, C)
    cm[..., :-1, :] = np.minimum(c[..., 1:, :], c[..., :-1, :])  # (..., T-1, V)
    return np.where(cm[..., None] > 0, m, 0).astype(x.dtype, copy=False), cm


def compute_stream(x: np.ndarray, c: np.ndarray, stream: str, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One of :data:`STREAMS` from joint coordinates ``x`` (..., T, V, C) and confidence ``c`` (..., T, V)."""
    if stream == "joint":
        return x, c
    if stream == "bone":
        return bone(x, c, parents)
    if stream == "joint_motion":
        return motion(x, c)
    if stream == "bone_motion":
        return motion(*bone(x, c, parents))
    raise ConfigError(f"unknown stream {stream!r}; known streams: {', '.join(STREAMS)}")
