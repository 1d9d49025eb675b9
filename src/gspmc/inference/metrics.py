"""Accuracy metrics on score matrices: top-k, per-class accuracy, confusion: the one implementation.

Numpy on scores ``(N, K)`` (any monotone scores: logits, probabilities) and integer labels
``(N,)`` indexing the same class list. Used by ``gspmc test``, the grid, the open-vocabulary
protocol and the studio.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def topk_correct(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(N,) bool: is the true label among the ``k`` highest scores? (ties broken by class index)."""
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (N, k)
    return (order == labels[:, None]).any(axis=1)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of clips whose label is among the top-``k`` scores (nan for an empty set)."""
    if len(labels) == 0:
        return float("nan")
    return float(topk_correct(scores, labels, k).mean())


def predictions(scores: np.ndarray) -> np.ndarray:
    """(N,) argmax class (lowest index on ties)."""
    return np.argmax(np.asarray(scores), axis=1)


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts; row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(pred)), 1)
    return cm


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(K,) recall of each class; nan for classes with no clip in ``labels``."""
    cm = confusion_matrix(pred, labels, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.diag(cm) / support
    return np.where(support > 0, acc, np.nan)


def compute_metrics(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Top-1, top-5, mean per-class accuracy and per-class rows for the classes present in ``labels``."""
    scores = np.asarray(scores)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} do not match")
    if scores.shape[1] != len(classes):
        raise ValueError(f"scores have {scores.shape[1]} columns but there are {len(classes)} classes")
    pred = predictions(scores)
    acc = per_class_accuracy(pred, labels, len(classes))
    support = np.bincount(labels, minlength=len(classes))
    present = np.flatnonzero(support)
    return {
        "num_clips": int(len(labels)),
        "num_classes_present": int(len(present)),
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class_accuracy": float(np.nanmean(acc)) if len(present) else float("nan"),
        "per_class": {classes[c]: {"n": int(support[c]), "accuracy": float(acc[c])} for c in present},
    }
