"""What makes a training run survive SIGKILL: atomic checkpoint files, and the crash tests' kill hook.

A run killed at any instant (power loss, OOM killer, ``kill -9``) must resume to the same final
weights as a run never interrupted. Lightning's own writer streams the checkpoint into the target
file, so a kill mid-write would leave a truncated ``last.ckpt`` that the resume then fails on;
:class:`AtomicCheckpointIO` writes every checkpoint through `gspmc.io` (temporary file, fsync,
rename) instead. :class:`KillAfterStep` is only installed when ``GSPMC_KILL_AT=fit:step@N`` is set
(`gspmc.faults`), to kill a run at a known training step in tests.
"""

from __future__ import annotations

import io
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from gspmc.faults import kill_point
from gspmc.io import write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic for local files: the checkpoint is serialised in
    memory and written with `gspmc.io.write_bytes`, so ``last.ckpt`` and ``best.ckpt`` are always a
    complete version, even after SIGKILL in the middle of a write. Remote URLs (``s3://`` ...) go to
    Lightning's own writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        write_bytes(path, buf.getvalue())
        return None


class KillAfterStep(L.Callback):
    """Crash-test hook: the ``fit:step`` kill point after every training batch (gspmc.faults)."""

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        kill_point("fit:step")
