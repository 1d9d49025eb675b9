"""Scores -> probabilities, fusion of several models, and ranking: the one implementation.

Everything here is numpy on score matrices ``(N, K)`` (logits as a model outputs them); nothing
needs torch or a model.

Fusion (several checkpoints, e.g. the four streams of SAM-SLR / GSP-MC): each model's logits are
turned into probabilities with a softmax, then averaged with weights,

    p = sum_m w_m softmax(z_m) / sum_m w_m          (N, K)

so the fused scores are themselves a distribution (weights default to 1 each). ``gspmc predict``,
``gspmc live`` and the grid's fused rows all use :func:`fuse`; the weights of the grid's tuned rows
are chosen on validation scores only (:func:`gspmc.train.evaluate.tune_fusion_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gspmc.errors import ConfigError


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (float64)."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax along ``axis`` (float64)."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def fusion_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """Validated fusion weights (count,) float64: default 1 each; finite, >= 0, positive sum.

    Raises:
        ConfigError: a wrong number of weights or an invalid value.
    """
    if weights is None or len(weights) == 0:
        return np.ones(count, np.float64)
    if len(weights) != count:
        raise ConfigError(f"{len(weights)} fusion weights for {count} models")
    w = np.asarray(weights, np.float64)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"fusion weights must be finite, >= 0 and not all 0, got {list(weights)}")
    return w


def fuse(scores: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted average of per-model softmax probabilities (module docstring).

    Args:
        scores: M arrays (N, K) of logits for the same clips and classes, in the same order.
        weights: M weights (default 1 each), see :func:`fusion_weights`.
    Returns:
        (N, K) float64 fused probabilities; each row sums to 1.
    """
    if not scores:
        raise ValueError("fuse needs at least one score matrix")
    shape = np.asarray(scores[0]).shape
    for s in scores:
        if np.asarray(s).shape != shape:
            raise ValueError(f"score shapes differ: {shape} vs {np.asarray(s).shape}")
    w = fusion_weights(weights, len(scores))
    stacked = np.stack([softmax(s) for s in scores])  # (M, N, K)
    return np.tensordot(w / w.sum(), stacked, axes=1)  # (N, K)


def rank(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest of ``probs`` (K,), best first.

    Values equal up to rounding (1e-9) are ties, broken by class order, so the ranking does not
    depend on the last bits of the softmax / fusion arithmetic.
    """
    p = np.asarray(probs, np.float64)
    k = max(1, min(int(k), len(p)))
    return np.lexsort((np.arange(len(p)), -np.round(p, 9)))[:k]
