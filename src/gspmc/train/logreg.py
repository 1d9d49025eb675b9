"""A linear reference: multinomial logistic regression on the raw, flattened keypoint frames.

The shared data's documentation quotes ~78% (TheCamNelson held out) and ~57% (dmohazab held out)
for such a model; this module measures it ourselves on exactly the splits the GCN uses
(``gspmc.data.protocols``), so the comparison is like for like.

Features: each clip's (T, V, D) coordinates as the reader gives them (missing joints 0), resampled
to T frames when lengths differ, flattened, then standardised with the TRAINING mean/std. Model:
softmax regression with an L2 penalty, fitted full-batch with L-BFGS in float32 (deterministic). The penalty
is chosen on the VALIDATION split; the test split is scored once with the chosen penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

L2_GRID = (1e-4, 1e-3, 1e-2)  # penalties tried (on the mean cross-entropy), chosen on validation


def clip_features(samples: Sequence[Any], frames: int | None = None) -> np.ndarray:
    """(N, T*V*D) float32 raw features; clips are resampled (nearest frame) to ``frames`` when given."""
    if not samples:
        return np.zeros((0, 0), np.float32)
    frames = frames or samples[0].coords.shape[0]
    rows = []
    for s in samples:
        idx = np.linspace(0, s.coords.shape[0] - 1, frames).round().astype(int)  # (T,)
        rows.append(s.coords[idx].reshape(-1))  # (T*V*D,)
    return np.stack(rows).astype(np.float32)


@dataclass
class LogReg:
    """A fitted softmax regression."""

    weight: np.ndarray  # (F, K)
    bias: np.ndarray  # (K,)
    mean: np.ndarray  # (F,) training feature mean
    std: np.ndarray  # (F,) training feature std (1 where constant)
    l2: float

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, K)."""
        return ((x - self.mean) / self.std) @ self.weight + self.bias


def fit_logreg(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float, max_iter: int = 100) -> LogReg:
    """Fit softmax regression (mean CE + l2 * ||W||^2) with full-batch L-BFGS, from zero weights."""
    mean = x.mean(0)
    std = x.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    xt = torch.from_numpy(((x - mean) / std).astype(np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    w = torch.zeros(x.shape[1], num_classes, dtype=torch.float32, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-10, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LogReg(w.detach().numpy(), b.detach().numpy(), mean, std, l2)


def logreg_baseline(clips: Any, split: Any, l2_grid: Sequence[float] = L2_GRID) -> dict[str, Any]:
    """Choose the penalty on validation, then report validation and test top-1 of the chosen model."""
    samples = clips.samples
    labels = clips.labels()
    frames = int(np.median([s.coords.shape[0] for s in samples]))
    feats = {k: clip_features([samples[i] for i in getattr(split, k)], frames) for k in ("train", "val", "test")}
    ys = {k: labels[np.asarray(getattr(split, k))] for k in ("train", "val", "test")}
    k = len(clips.classes)
    tried = []
    best: LogReg | None = None
    best_acc = -1.0
    for l2 in l2_grid:
        model = fit_logreg(feats["train"], ys["train"], k, l2)
        acc = float((model.scores(feats["val"]).argmax(1) == ys["val"]).mean())
        tried.append({"l2": l2, "val_top1": acc})
        if acc > best_acc:
            best, best_acc = model, acc
    assert best is not None
    test_acc = float((best.scores(feats["test"]).argmax(1) == ys["test"]).mean()) if len(ys["test"]) else float("nan")
    return {
        "model": "logistic regression on raw flattened frames",
        "features": int(feats["train"].shape[1]),
        "l2_chosen_on_val": best.l2,
        "tried": tried,
        "val_top1": best_acc,
        "test_top1": test_acc,
        "counts": {kk: int(len(v)) for kk, v in ys.items()},
    }
