"""Evaluation files: score files, reports with confusion PNGs, fusion weights tuned on validation.

Everything here is numpy on score matrices ``(N, K)`` (logits as the model outputs them) and
integer labels ``(N,)``; nothing needs Lightning or a model. Score files (``.npz``) hold
``scores`` (N, K) float32 logits, ``labels`` (N,), ``ids`` (N,) and ``classes`` (K,), so streams
trained separately can be fused later on the same clips.

The metrics themselves live in :mod:`gspmc.inference.metrics`, softmax and fusion (the weighted
average of per-stream softmax probabilities) in :mod:`gspmc.inference.scores`; this module adds
what only evaluation runs need: weights tuned on VALIDATION scores only (:func:`tune_fusion_weights`),
score files, reports.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import ConfigError, DataError
from gspmc.inference.classes import align_classes
from gspmc.inference.metrics import compute_metrics, confusion_matrix, predictions, topk_accuracy
from gspmc.inference.scores import fuse
from gspmc.io import atomic_write, write_json, write_npz

FUSION_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)  # candidate weights per stream when tuning on validation


@dataclass
class ScoreFile:
    """One model's scores on one split."""

    scores: np.ndarray  # (N, K) float32 logits
    labels: np.ndarray  # (N,) int64 class indices into ``classes``
    ids: np.ndarray  # (N,) str clip ids
    classes: list[str]  # (K,) class names


def tune_fusion_weights(
    streams: Sequence[np.ndarray], labels: np.ndarray, grid: Sequence[float] = FUSION_GRID
) -> list[float]:
    """Weights from ``grid``^S maximising top-1 of :func:`gspmc.inference.scores.fuse` on the given
    (validation) scores.

    Ties go to the candidate closest to equal weights (then the first in grid order), so
    equal weights win whenever they are as good as anything else.
    """
    best: tuple[float, float] | None = None
    best_w: list[float] = [1.0] * len(streams)
    for cand in itertools.product(grid, repeat=len(streams)):
        w = np.asarray(cand, dtype=np.float64)
        if w.sum() <= 0:
            continue
        acc = topk_accuracy(fuse(streams, w), labels, 1)
        dist = float(np.abs(w / w.sum() - 1.0 / len(w)).sum())
        key = (acc, -dist)
        if best is None or key > best:
            best, best_w = key, [float(x) for x in cand]
    return best_w


# ----------------------------------------------------------------------------------------------
# files


def save_scores(path: str | os.PathLike[str], sf: ScoreFile) -> Path:
    """Atomically write a score file."""
    return write_npz(
        path,
        scores=sf.scores.astype(np.float32),
        labels=sf.labels.astype(np.int64),
        ids=np.asarray(sf.ids, dtype=str),
        classes=np.asarray(sf.classes, dtype=str),
    )


def load_scores(path: str | os.PathLike[str]) -> ScoreFile:
    """Read a score file written by :func:`save_scores`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            sf = ScoreFile(z["scores"], z["labels"], z["ids"], [str(c) for c in z["classes"]])
    except (OSError, KeyError, ValueError) as err:
        raise DataError(path, f"not a readable gspmc score file ({err})") from None
    if sf.scores.ndim != 2 or sf.scores.shape != (len(sf.labels), len(sf.classes)):
        raise DataError(path, f"inconsistent shapes: scores {sf.scores.shape}, {len(sf.labels)} labels, "
                              f"{len(sf.classes)} classes")
    return sf


def align_scores(files: Sequence[ScoreFile], names: Sequence[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """Check that score files cover the same clips and classes and return their matrices in one clip
    order and the first file's class order (another order of the same classes is matched by name;
    another class set is refused: :func:`gspmc.inference.classes.align_classes`)."""
    ref = files[0]
    order_ref = np.argsort(ref.ids, kind="stable")
    out = []
    for sf, name in zip(files, names, strict=True):
        try:
            alignment = align_classes(sf.classes, ref.classes, where=f"{name} (against the first score file)")
        except ConfigError as err:
            raise DataError(name, f"cannot fuse: {err}") from None
        if sorted(sf.ids.tolist()) != sorted(ref.ids.tolist()):
            raise DataError(name, "clip ids differ from the first score file; cannot fuse")
        order = np.argsort(sf.ids, kind="stable")
        column = {c: i for i, c in enumerate(sf.classes)}
        cols = np.asarray([column[c] for c in ref.classes], np.int64)  # this file's column of each ref class
        labels = cols.argsort()[sf.labels] if alignment.reordered else sf.labels  # into ref's class indices
        if not np.array_equal(labels[order], ref.labels[order_ref]):
            raise DataError(name, "labels differ from the first score file for the same clip ids")
        out.append(sf.scores[order][:, cols])
    return out, ref.labels[order_ref]


def plot_confusion(
    cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Row-normalised confusion matrix as a PNG (rows: true classes present; columns: those plus predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = np.flatnonzero(cm.sum(axis=1))
    cols = np.union1d(rows, np.flatnonzero(cm.sum(axis=0)))
    sub = cm[np.ix_(rows, cols)].astype(np.float64)  # (R, C)
    norm = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.28 * len(cols) + 2)
    fig, ax = plt.subplots(figsize=(size, max(3.5, 0.28 * len(rows) + 2)), dpi=100)
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues", aspect="auto")
    if len(cols) <= 80:
        ax.set_xticks(range(len(cols)), [classes[c] for c in cols], rotation=90, fontsize=7)
        ax.set_yticks(range(len(rows)), [classes[r] for r in rows], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def evaluate_scores(
    sf: ScoreFile,
    out_dir: str | os.PathLike[str],
    split: str,
    *,
    config: dict[str, Any] | None = None,
    checkpoints: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    stem: str | None = None,
) -> dict[str, Any]:
    """Metrics, confusion PNG and JSON report for one score file; returns the report."""
    out_dir = Path(out_dir)
    stem = stem or split
    metrics = compute_metrics(sf.scores, sf.labels, sf.classes)
    cm = confusion_matrix(predictions(sf.scores), sf.labels, len(sf.classes))
    png = plot_confusion(cm, sf.classes, out_dir / f"confusion_{stem}.png",
                         title=f"{split}: top-1 {100 * metrics['top1']:.1f}% ({metrics['num_clips']} clips)")
    report = {
        "split": split,
        "counts": {"clips": metrics["num_clips"], "classes_present": metrics["num_classes_present"],
                   "classes_total": len(sf.classes)},
        "metrics": {k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy")},
        "per_class": metrics["per_class"],
        "confusion": {"classes": list(sf.classes), "matrix": cm.tolist()},  # rows: true class, columns: predicted
        "confusion_png": str(png),
        "checkpoints": [str(c) for c in checkpoints],
        "config": config,
        **(extra or {}),
    }
    report["report_json"] = str(out_dir / f"report_{stem}.json")
    write_json(out_dir / f"report_{stem}.json", report)
    return report
