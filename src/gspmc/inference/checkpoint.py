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

and ``state_dict`` whose ``model.*`` entries are the recognition network (backbone + classifier). ``Recognizer.model`` is that network alone, so inference costs exactly a plain CTR-GCN.

A GSP-MC checkpoint also holds the contrastive projection heads (``objective.global_head.*``,
``objective.part_heads.*``): :func:`load_recognizer` keeps the global head beside the model as
``Recognizer.net`` (a :class:`gspmc.inference.heads.OpenVocabNet` sharing the model's weights),
so :meth:`Recognizer.embed` gives a clip's embedding in the text space. An enrolled checkpoint
(``gspmc enroll``, ``checkpoint["gspmc"]["openvocab"]``, see :mod:`gspmc.inference.enrolled`)
also scores its enrolled classes against their prototypes: then ``Recognizer.model`` is that
``OpenVocabNet`` and ``classes`` = the trained classes not hidden + the enrolled ones.
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
from gspmc.inference.enrolled import OPENVOCAB_KEY, OpenVocabState
from gspmc.inference.heads import NO_TEXT_SPACE_HINT, OpenVocabNet, head_weights
from gspmc.io import plain
from gspmc.models import ModelConfig, build_model
from gspmc.pose.layouts import Layout, get_layout
from gspmc.pose.transforms import InputConfig

CHECKPOINT_FORMAT = 1


@dataclass
class Recognizer:
    """A trained model ready for inference."""

    model: nn.Module  # the recognition network (backbone + classifier) in eval mode
    classes: list[str]  # class names, index = logit column
    input_cfg: InputConfig  # the input pipeline used at training time
    layout: Layout  # the model input's keypoint layout
    config: dict[str, Any]  # the resolved training config
    path: Path  # the checkpoint file
    epoch: int | None = None  # epoch the weights come from
    net: OpenVocabNet | None = None  # the embedding path when the checkpoint has the GSP-MC heads
    openvocab: OpenVocabState | None = None  # the open vocabulary when ``net`` exists
    trained_classes: list[str] = dataclasses.field(default_factory=list)  # the classifier's outputs

    @property
    def has_embedding(self) -> bool:
        """True when the checkpoint has a text-embedding space (a GSP-MC global projection head)."""
        return self.net is not None

    def _batch(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
        if t.ndim == 3:
            t = t.unsqueeze(0)  # (1, C, T, V)
        v, c = self.layout.num_joints, self.input_cfg.channels
        if t.ndim != 4 or t.shape[1] != c or t.shape[3] != v:
            raise ValueError(f"expected inputs (N, {c}, T, {v}) for layout {self.layout.name}, got {tuple(t.shape)}")
        return t

    @torch.no_grad()
    def embed(self, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Unit embeddings (N, d) in the text space for model inputs (N, C, T, V) or one clip (C, T, V).

        Raises:
            DataError: the checkpoint was trained without GSP-MC (no projection head).
        """
        if self.net is None:
            raise DataError(self.path, "this checkpoint was trained without GSP-MC: it has no text-embedding "
                            f"space (no 'objective.global_head' weights); {NO_TEXT_SPACE_HINT}")
        t = self._batch(x)
        device = next(self.net.parameters()).device
        out = [self.net.embed(t[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(t), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, int(self.net.head.out_features)), np.float32)

    @torch.no_grad()
    def logits(self, x: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Raw scores (N, K) for model inputs ``x`` (N, C, T, V) or a single clip (C, T, V)."""
        t = self._batch(x)
        device = next(self.model.parameters()).device
        out = [self.model(t[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(t), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def to(self, device: str | torch.device) -> Recognizer:
        """Move the model (and the embedding path) to ``device`` (returns self)."""
        self.model.to(device)
        if self.net is not None:
            self.net.to(device)
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
    path = Path(path)
    ckpt = read_checkpoint(path)
    meta = ckpt["gspmc"]
    try:
        model_cfg = ModelConfig.from_dict(meta["model"])
        input_cfg = InputConfig.from_dict(meta["input"])
        layout = get_layout(meta["layout"])
        classes = [str(c) for c in meta["classes"]]
        model = build_model(model_cfg, len(classes), layout)
        model.load_state_dict(model_state(ckpt["state_dict"]))
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise DataError(path, f"checkpoint does not match this gspmc version's model ({err})") from None
    model.eval()
    rec = Recognizer(model=model, classes=list(classes), input_cfg=input_cfg, layout=layout,
                     config=meta.get("config", {}), path=path, epoch=meta.get("epoch"), trained_classes=classes)
    _attach_open_vocabulary(rec, ckpt)
    rec.to(device)
    return rec


def _attach_open_vocabulary(rec: Recognizer, ckpt: dict[str, Any]) -> None:
    """Give ``rec`` its embedding path and enrolled classes when the checkpoint has GSP-MC heads."""
    heads = head_weights(ckpt["state_dict"])
    if heads.global_head is None:
        if ckpt["gspmc"].get(OPENVOCAB_KEY):
            raise DataError(rec.path, "enrolled classes but no GSP-MC projection head: the checkpoint is damaged")
        return
    mc = (rec.config.get("mc") or {}).get("options") or {}
    tau = heads.tau if heads.tau is not None else float(mc.get("tau", 0.1))
    state = OpenVocabState.from_checkpoint(ckpt, rec.path, default_tau=tau)
    dim = int(heads.global_head.out_features)
    unknown = [h for h in state.hidden if h not in rec.trained_classes]
    if unknown:
        raise DataError(rec.path, f"hidden classes {unknown} are not trained classes of this checkpoint")
    keep = [i for i, c in enumerate(rec.trained_classes) if c not in set(state.hidden)]
    if state.active:
        net = OpenVocabNet(rec.model, heads.global_head, torch.from_numpy(state.prototypes(dim)),
                           torch.tensor(keep, dtype=torch.long), tau=state.tau,
                           bias=torch.from_numpy(state.biases().reshape(-1))).eval()
        rec.model = net
        rec.classes = [rec.trained_classes[i] for i in keep] + [c.gloss for c in state.enrolled]
    else:
        net = OpenVocabNet(rec.model, heads.global_head, tau=state.tau).eval()
    rec.net = net
    rec.openvocab = state


def checkpoint_meta(config: dict[str, Any], classes: list[str], model_cfg: ModelConfig, epoch: int) -> dict[str, Any]:
    """The ``checkpoint["gspmc"]`` entry (plain data only, so ``weights_only`` loading works)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "config": config,
        "classes": list(classes),
        "input": plain(dict(config["input"])),
        "layout": config["input"]["layout"],
        "model": plain(dataclasses.asdict(model_cfg)),
        "epoch": int(epoch),
    }
