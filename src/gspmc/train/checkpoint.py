"""Load a trained recogniser from a checkpoint for inference, without Lightning.

A gspmc training checkpoint is a Lightning ``.ckpt`` (a ``torch.save`` dict). Besides Lightning's
own entries it holds ``checkpoint["gspmc"]`` (written by the training module)::

    {"format": 1,
     "config": {...},          # the resolved training config (gspmc.train.config.config_to_dict)
     "classes": [...],         # class names, index = model output
     "input": {...},           # gspmc.pose.transforms.InputConfig fields
     "layout": "gspmc-55",     # model layout name
     "model": {...},           # resolved gspmc.models.ModelConfig fields
     "epoch": 12}              # epoch the weights come from

and ``state_dict`` whose ``model.*`` entries are the recognition network (CTR-GCN backbone +
classifier). Training-only modules (``objective.*``: contrastive projection heads) are dropped,
so inference costs exactly a plain CTR-GCN.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gspmc.errors import DataError

CHECKPOINT_FORMAT = 1


@dataclass
class Recognizer:
    """A trained model ready for inference."""

    model: nn.Module  # CTRGCN in eval mode
    classes: list[str]  # class names, index = logit column
    input_cfg: Any  # gspmc.pose.transforms.InputConfig used at training time
    layout: Any  # gspmc.pose.layouts.Layout of the model input
    config: dict[str, Any]  # the resolved training config
    path: Path  # the checkpoint file
    epoch: int | None = None  # epoch the weights come from

    @torch.no_grad()
    def logits(self, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Raw scores (N, K) for model inputs ``x`` (N, 3, T, V) or a single clip (3, T, V)."""
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        if t.ndim == 3:
            t = t.unsqueeze(0)  # (1, 3, T, V)
        v = self.layout.num_joints
        if t.ndim != 4 or t.shape[1] != 3 or t.shape[3] != v:
            raise ValueError(f"expected inputs (N, 3, T, {v}) for layout {self.layout.name}, got {tuple(t.shape)}")
        device = next(self.model.parameters()).device
        out = [self.model(t[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(t), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_inputs(self, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, K) (softmax of :meth:`logits`)."""
        z = torch.from_numpy(self.logits(x, batch_size))
        return torch.softmax(z, dim=1).numpy()

    def to(self, device: str | torch.device) -> Recognizer:
        """Move the model to ``device`` (returns self)."""
        self.model.to(device)
        return self


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint dict on CPU with ``weights_only=True`` (no arbitrary code from the file)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "checkpoint file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated / foreign files
        raise DataError(path, f"not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or "gspmc" not in ckpt or "state_dict" not in ckpt:
        raise DataError(path, "not a gspmc training checkpoint (no 'gspmc' metadata / state_dict)")
    fmt = ckpt["gspmc"].get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise DataError(path, f"checkpoint format {fmt!r} is not supported (expected {CHECKPOINT_FORMAT})")
    return ckpt


def model_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The recognition network's weights: ``model.*`` entries with the prefix removed."""
    return {k[len("model."):]: v for k, v in state_dict.items() if k.startswith("model.")}


def load_recognizer(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Recognizer:
    """Rebuild the trained model from a checkpoint (eval mode) with its classes and input config."""
    from gspmc.models import ModelConfig, build_model
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import InputConfig
    from gspmc.train.config import _build

    path = Path(path)
    ckpt = read_checkpoint(path)
    meta = ckpt["gspmc"]
    try:
        model_cfg = ModelConfig.from_dict(meta["model"])
        input_cfg = _build(InputConfig, meta["input"], "input")
        layout = get_layout(meta["layout"])
        classes = [str(c) for c in meta["classes"]]
        model = build_model(model_cfg, len(classes), layout)
        model.load_state_dict(model_state(ckpt["state_dict"]))
    except (KeyError, RuntimeError, ValueError) as err:
        raise DataError(path, f"checkpoint does not match this gspmc version's model ({err})") from None
    model.eval().to(device)
    return Recognizer(model=model, classes=classes, input_cfg=input_cfg, layout=layout,
                      config=meta.get("config", {}), path=path, epoch=meta.get("epoch"))


def checkpoint_meta(config: dict[str, Any], classes: list[str], model_cfg: Any, epoch: int) -> dict[str, Any]:
    """The ``checkpoint["gspmc"]`` entry (plain data only, so ``weights_only`` loading works)."""
    from gspmc.train.config import _plain

    return {
        "format": CHECKPOINT_FORMAT,
        "config": config,
        "classes": list(classes),
        "input": _plain(dict(config["input"])),
        "layout": config["input"]["layout"],
        "model": _plain(dataclasses.asdict(model_cfg)),
        "epoch": int(epoch),
    }
