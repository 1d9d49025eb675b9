"""A model's class list against labelled data: the one check wherever a checkpoint meets labels.

A checkpoint's logits are columns of *its* class list; a dataset's labels index *the data's* class
list (own data: sorted folder names). The two may differ in order or in content; scoring one with the
other silently mislabels every clip. :func:`align_classes` decides, by class name:

- the same list: nothing changes;
- the same set in another order: labels are remapped to the model's columns (metrics identical to a
  matching order);
- different sets: refused with an error naming the data's classes the model lacks and the model's
  classes the data lacks, unless ``shared=True`` (``--shared-classes``): then only clips of classes
  both sides have are scored, and only over those classes' columns; reports say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gspmc.errors import ConfigError


@dataclass(frozen=True)
class ClassAlignment:
    """How to score a model's outputs against a dataset's labels (see the module docstring)."""

    classes: list[str]  # the class list of the scores after :meth:`apply` (model order)
    columns: np.ndarray  # (K',) model output columns kept, in model order
    label_map: np.ndarray  # (K_data,) data label -> index into ``classes`` (-1: not scored)
    missing: list[str]  # data classes the model does not have
    extra: list[str]  # model classes the data does not have
    reordered: bool  # the same set in another order

    @property
    def identity(self) -> bool:
        """True when scores and labels are used as they are."""
        return not (self.missing or self.extra or self.reordered)

    def apply(self, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores (N, K_model), labels (N,) in data indices) -> (scores (n, K'), labels (n,) into
        ``classes``, kept (n,) row indices)."""
        labels = np.asarray(labels, np.int64)
        mapped = self.label_map[labels] if len(labels) else labels  # (N,)
        kept = np.flatnonzero(mapped >= 0)
        return np.asarray(scores)[kept][:, self.columns], mapped[kept], kept

    def report(self) -> dict:
        """What a report records about the alignment (empty when nothing changed)."""
        if self.identity:
            return {}
        out: dict = {"class_alignment": "reordered by name" if not (self.missing or self.extra) else
                     "shared classes only"}
        if self.missing or self.extra:
            out["shared_classes"] = {"scored": len(self.classes), "data_only": self.missing,
                                     "model_only": self.extra}
        return out


def align_classes(model: Sequence[str], data: Sequence[str], shared: bool = False,
                  where: str = "the checkpoint") -> ClassAlignment:
    """Match a model's classes to a dataset's by name (module docstring).

    Raises:
        ConfigError: the class sets differ and ``shared`` is False (the message names both sides' extras).
    """
    model, data = [str(c) for c in model], [str(c) for c in data]
    for name, names in (("model", model), ("data", data)):
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ConfigError(f"{where}: the {name} class list names {dup} twice")
    in_model, in_data = set(model), set(data)
    missing = [c for c in data if c not in in_model]
    extra = [c for c in model if c not in in_data]
    if (missing or extra) and not shared:
        raise ConfigError(
            f"{where}: its classes are not the data's ({len(model)} vs {len(data)} classes); the data has "
            f"{_names(missing)} that the model lacks, the model has {_names(extra)} that the data lacks. "
            "Score the right data, or pass --shared-classes to score only the classes both have")
    columns = np.asarray([i for i, c in enumerate(model) if c in in_data], np.int64)  # model order
    classes = [model[i] for i in columns]
    position = {c: j for j, c in enumerate(classes)}
    label_map = np.asarray([position.get(c, -1) for c in data], np.int64)
    if shared and not classes:
        raise ConfigError(f"{where}: the model and the data share no class")
    return ClassAlignment(classes, columns, label_map, missing, extra,
                          reordered=not (missing or extra) and model != data)


def _names(names: list[str], limit: int = 10) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)})"
