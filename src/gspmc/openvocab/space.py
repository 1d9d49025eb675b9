"""The shared skeleton-text space of a GSP-MC checkpoint: clip features and class text prototypes.

- :func:`text_prototypes`: per class, the mean of the unit embeddings of its global and synonym
  descriptions (what the global projection head was trained toward, Eq. 11), from a
  :class:`gspmc.text.TextBank` (``gspmc.text.load_text_bank``: texts aligned to classes by name).
- :func:`part_text_prototypes`: the same per model part, after the objective's part mapping.
- :func:`clip_features`: for every clip of a ClipSet, the classifier logits, S_g, the unit global
  embedding and the unit part embeddings of a checkpoint (test-time input, no augmentation); of a
  CE-only checkpoint (no text space) the logits and S_g only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gspmc.errors import DataError
from gspmc.inference.heads import NO_TEXT_SPACE_HINT, head_weights
from gspmc.inference.prototypes import unit

GLOBAL_KINDS: tuple[str, ...] = ("global", "synonym")


def text_prototypes(bank: Any, kinds: Sequence[str] = GLOBAL_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """(C, d) mean of the unit text embeddings of each class over ``kinds``, and (C,) bool: has a text.

    Rows of classes without any text are zero.
    """
    c, d = len(bank.classes), int(bank.dim)
    total = np.zeros((c, d), np.float64)
    count = np.zeros(c, np.int64)
    for kind in kinds:
        kb = bank.kinds.get(kind)
        if kb is None or len(kb) == 0:
            continue
        np.add.at(total, kb.labels, unit(kb.embeddings).astype(np.float64))
        np.add.at(count, kb.labels, 1)
    has = count > 0
    total[has] /= count[has, None]
    return total.astype(np.float32), has


def part_text_prototypes(bank: Any, model_parts: Sequence[str],
                         part_map: Mapping[str, Any] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Model part -> ((C, d) text prototypes, (C,) has a text), via the objective's part mapping."""
    from gspmc.losses.objective import resolve_part_map

    mapping = resolve_part_map(bank.parts, model_parts, part_map)
    out = {}
    for part in model_parts:
        kinds = [d for d, m in mapping.items() if m == part]
        if kinds:
            out[part] = text_prototypes(bank, kinds)
    return out


@dataclass(frozen=True)
class ClipFeatures:
    """Per-clip outputs of one checkpoint over a ClipSet (rows = clips, dataset order)."""

    logits: np.ndarray  # (N, K) classifier logits over the checkpoint's trained classes
    global_: np.ndarray  # (N, D) S_g
    embedding: np.ndarray  # (N, d) unit(global_head(S_g)); (N, 0) for a CE-only checkpoint
    parts: dict[str, np.ndarray]  # model part -> (N, d) unit(part_head(S_p)); empty for a CE-only checkpoint
    inputs: np.ndarray  # (N, 3 * T * V) the flattened model inputs (raw-feature baseline)

    def save(self, path: str | os.PathLike[str]) -> None:
        from gspmc.io import write_npz

        write_npz(path, logits=self.logits, global_=self.global_, embedding=self.embedding, inputs=self.inputs,
                  part_names=np.asarray(list(self.parts)), **{f"part_{k}": v for k, v in self.parts.items()})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClipFeatures:
        with np.load(path, allow_pickle=False) as z:
            names = [str(n) for n in z["part_names"]]
            return cls(z["logits"], z["global_"], z["embedding"], {n: z[f"part_{n}"] for n in names}, z["inputs"])


@torch.no_grad()
def clip_features(checkpoint: str | os.PathLike[str], clips: Any, batch_size: int = 64,
                  text_space: bool = True) -> ClipFeatures:
    """Run a checkpoint over every clip of ``clips`` (test-time input pipeline).

    Args:
        text_space: require the GSP-MC projection heads (the default); with False a CE-only checkpoint
            is accepted and gives an (N, 0) embedding and no part embeddings.

    Raises:
        DataError: ``text_space`` and the checkpoint has no GSP-MC global projection head.
    """
    from gspmc.data.dataset import SkeletonDataset
    from gspmc.inference.checkpoint import load_recognizer, read_checkpoint

    rec = load_recognizer(checkpoint)
    heads = head_weights(read_checkpoint(checkpoint)["state_dict"])
    if heads.global_head is None and text_space:
        raise DataError(checkpoint, f"no GSP-MC projection head; {NO_TEXT_SPACE_HINT}")
    model = rec.model.eval()
    names = list(rec.layout.parts)
    ds = SkeletonDataset(clips, np.arange(len(clips)), rec.input_cfg, None, 0)
    out: dict[str, list[np.ndarray]] = {"logits": [], "global": [], "emb": [], "inputs": []}
    parts: dict[str, list[np.ndarray]] = {p: [] for p in heads.part_heads}
    for start in range(0, len(ds), batch_size):
        x = torch.stack([torch.as_tensor(ds[i][0]) for i in range(start, min(start + batch_size, len(ds)))])
        feats = model.encode(x)  # global_ (n, D), parts (n, P, D)
        out["logits"].append(model.classify(feats.global_).numpy())  # (n, K)
        out["global"].append(feats.global_.numpy())
        if heads.global_head is not None:
            out["emb"].append(F.normalize(heads.global_head(feats.global_), dim=1).numpy())  # (n, d)
        else:
            out["emb"].append(np.zeros((len(x), 0), np.float32))  # (n, 0): no text space
        out["inputs"].append(x.reshape(len(x), -1).numpy())  # (n, 3 T V)
        for p, head in heads.part_heads.items():
            parts[p].append(F.normalize(head(feats.parts[:, names.index(p)]), dim=1).numpy())
    cat = {k: np.concatenate(v).astype(np.float32) for k, v in out.items()}
    return ClipFeatures(cat["logits"], cat["global"], cat["emb"],
                        {p: np.concatenate(v).astype(np.float32) for p, v in parts.items()}, cat["inputs"])
