"""Training callbacks: model selection on validation.

:class:`BestOnValidation` keeps ``best.ckpt`` = the epoch with the highest validation top-1;
**ties on top-1 are broken by the lower validation loss** (then the earlier epoch). With a small
validation set top-1 saturates (all of 219 clips right from epoch 2 on some folds), and "the first
of the tied epochs" would then pick an under-trained model; the loss still orders them.

The comparison state (best top-1, loss, epoch) is part of every checkpoint (Lightning stores
callback state), so a resumed run continues the same selection. ``best.ckpt`` is written to a
temporary file and renamed, so an interrupted write never leaves a truncated best checkpoint.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L

#: two validation top-1 values closer than this are a tie (they are k / N for the same N)
TOP1_TOL = 1e-9


def is_better(top1: float, loss: float, best_top1: float, best_loss: float) -> bool:
    """Lexicographic (higher top-1, then lower loss); equal on both: not better (the earlier epoch stays)."""
    if top1 > best_top1 + TOP1_TOL:
        return True
    if abs(top1 - best_top1) <= TOP1_TOL:
        return loss < best_loss
    return False


class BestOnValidation(L.Callback):
    """Save ``dirpath/filename`` whenever validation (top-1, then loss) improves.

    Args:
        dirpath: run folder. filename: checkpoint file name (default ``best.ckpt``).
        top1_key, loss_key: the logged validation metrics.
    """

    def __init__(self, dirpath: str | os.PathLike[str], filename: str = "best.ckpt",
                 top1_key: str = "val/top1", loss_key: str = "val/loss") -> None:
        self.path = Path(dirpath) / filename
        self.top1_key, self.loss_key = top1_key, loss_key
        self.best_top1 = -math.inf
        self.best_loss = math.inf
        self.best_epoch = -1

    @property
    def state_key(self) -> str:
        return f"BestOnValidation[{self.path.name}]"

    def state_dict(self) -> dict[str, Any]:
        return {"best_top1": self.best_top1, "best_loss": self.best_loss, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_top1 = float(state_dict["best_top1"])
        self.best_loss = float(state_dict["best_loss"])
        self.best_epoch = int(state_dict["best_epoch"])

    @property
    def best_model_path(self) -> str:
        return str(self.path) if self.best_epoch >= 0 else ""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        if self.top1_key not in metrics or self.loss_key not in metrics:
            return
        top1, loss = float(metrics[self.top1_key]), float(metrics[self.loss_key])
        if not is_better(top1, loss, self.best_top1, self.best_loss):
            return
        self.best_top1, self.best_loss, self.best_epoch = top1, loss, int(trainer.current_epoch)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, self.path)
