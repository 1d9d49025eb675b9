"""Model selection on validation: ties on top-1 broken by validation loss (gspmc.train.callbacks)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from gspmc.train.callbacks import BestOnValidation, is_better


def test_is_better_orders_by_top1_then_loss() -> None:
    assert is_better(0.9, 5.0, 0.8, 0.1)  # higher top-1 wins whatever the loss
    assert not is_better(0.8, 0.01, 0.9, 5.0)
    assert is_better(1.0, 0.20, 1.0, 0.30)  # tie on top-1: lower loss wins
    assert not is_better(1.0, 0.30, 1.0, 0.20)
    assert not is_better(1.0, 0.30, 1.0, 0.30)  # full tie: the earlier epoch stays
    assert is_better(219 / 219, 0.2, (219 / 219) + 1e-12, 0.3)  # float noise on equal k/N is a tie


class _Trainer:
    """The part of lightning.Trainer the callback uses."""

    def __init__(self) -> None:
        self.sanity_checking = False
        self.is_global_zero = True
        self.current_epoch = 0
        self.callback_metrics: dict[str, torch.Tensor] = {}
        self.saved: list[int] = []

    def save_checkpoint(self, path: Path) -> None:
        Path(path).write_text(f"epoch {self.current_epoch}")
        self.saved.append(self.current_epoch)


def test_saturated_validation_picks_the_lowest_loss_epoch(tmp_path) -> None:
    """Validation top-1 1.0 from epoch 1 on: best.ckpt is the tied epoch with the lowest loss (epoch 3)."""
    cb = BestOnValidation(tmp_path)
    trainer = _Trainer()
    history = [(0.80, 0.9), (1.0, 0.40), (1.0, 0.45), (1.0, 0.10), (1.0, 0.20), (0.95, 0.05)]
    for epoch, (top1, loss) in enumerate(history):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {"val/top1": torch.tensor(top1), "val/loss": torch.tensor(loss)}
        cb.on_validation_end(trainer, SimpleNamespace())
    assert trainer.saved == [0, 1, 3]
    assert cb.best_epoch == 3
    assert (tmp_path / "best.ckpt").read_text() == "epoch 3"
    assert not list(tmp_path.glob(".*.tmp"))  # written to a temporary name, then renamed
    # the state travels in checkpoints: a resumed callback continues the same comparison
    resumed = BestOnValidation(tmp_path)
    resumed.load_state_dict(cb.state_dict())
    trainer.current_epoch = 6
    trainer.callback_metrics = {"val/top1": torch.tensor(1.0), "val/loss": torch.tensor(0.15)}
    resumed.on_validation_end(trainer, SimpleNamespace())
    assert resumed.best_epoch == 3 and trainer.saved == [0, 1, 3]


def test_sanity_check_and_missing_metrics_are_ignored(tmp_path) -> None:
    cb = BestOnValidation(tmp_path)
    trainer = _Trainer()
    trainer.sanity_checking = True
    trainer.callback_metrics = {"val/top1": torch.tensor(1.0), "val/loss": torch.tensor(0.1)}
    cb.on_validation_end(trainer, SimpleNamespace())
    trainer.sanity_checking = False
    trainer.callback_metrics = {"val/top1": torch.tensor(1.0)}
    cb.on_validation_end(trainer, SimpleNamespace())
    assert trainer.saved == [] and cb.best_model_path == ""
