"""Class splits for open-vocabulary evaluation: classes AND signers held out (docs/open-vocabulary.md).

For one recorder fold ``f`` of ``traduttore-xsigner`` (the held-out signer) and one split seed:

- **pool**: the classes that the held-out signer AND the training-side signers recorded, without
  the idle class and without classes that have no knowledge-base entry (``excluded``; on
  traduttore ``-``, ``medium``, ``muffin``: neither a knowledge-base rendering nor the attribute
  baseline can describe them, so every description store and the baseline compete on the same
  classes).
- **test unseen** (``unseen``, ``n_unseen`` classes, ~20% of the vocabulary): drawn from the pool.
  Zero-shot / few-shot TEST queries are the held-out signer's clips of these classes.
- **validation unseen** (``val_unseen``, ``n_val`` classes): drawn from the rest of the pool. Their
  clips from the training-side signers select every open-vocabulary hyper-parameter (part weight,
  seen-class calibration, text weight of enrolment, ridge penalty of the baseline), never the test.
- **seen**: every other class the training side has. The model trains on the training-side clips
  of the seen classes only (:func:`seen_clipset`); no clip of an unseen class, and no clip of the
  held-out signer, is ever used for training or model selection.

Draws come from ``numpy.random.default_rng([seed, crc32(fold)])``, so a split is reproducible
and differs per fold.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError

IDLE_CLASSES: tuple[str, ...] = ("-",)


@dataclass(frozen=True)
class ClassSplit:
    """Which classes are seen, validation-unseen and test-unseen for one fold and seed."""

    fold: str  # held-out signer (test queries come from this recorder only)
    seed: int
    seen: tuple[str, ...]  # trained on (training-side clips only)
    val_unseen: tuple[str, ...]  # never trained; training-side clips select hyper-parameters
    unseen: tuple[str, ...]  # never trained; the held-out signer's clips are the test
    pool: tuple[str, ...]  # classes unseen ones are drawn from

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @property
    def tag(self) -> str:
        """Folder-name tag: ``<fold>/split<seed>``."""
        return f"{self.fold}/split{self.seed}"


def _fold_key(fold: str) -> int:
    return zlib.crc32(fold.encode("utf-8"))


def class_sides(clips: ClipSet, fold: str) -> tuple[set[str], set[str]]:
    """(classes the held-out signer ``fold`` recorded, classes the other signers recorded)."""
    signers, labels = clips.signers(), clips.labels()
    if not np.any(signers == fold):
        raise ConfigError(f"{clips.name}: no clip of signer {fold!r}")
    held = signers == fold
    names = np.asarray(clips.classes, dtype=object)
    test_side = {str(c) for c in names[np.unique(labels[held & (labels >= 0)])]}
    train_side = {str(c) for c in names[np.unique(labels[~held & (labels >= 0)])]}
    return test_side, train_side


def make_class_split(
    clips: ClipSet,
    fold: str,
    seed: int,
    *,
    n_unseen: int = 6,
    n_val: int = 3,
    excluded: Iterable[str] = ("-", "medium", "muffin"),
) -> ClassSplit:
    """Draw the unseen test and validation classes for ``fold`` (see the module docstring).

    Raises:
        ConfigError: the pool has fewer than ``n_unseen + n_val`` classes, or ``fold`` has no clip.
    """
    test_side, train_side = class_sides(clips, fold)
    drop = set(excluded) | set(IDLE_CLASSES)
    pool = sorted(c for c in clips.classes if c in test_side and c in train_side and c not in drop)
    if len(pool) < n_unseen + n_val or n_unseen < 2 or n_val < 1:
        raise ConfigError(f"{clips.name}, fold {fold}: {len(pool)} pool classes {pool} cannot give "
                          f"{n_unseen} unseen (>= 2) + {n_val} validation (>= 1) classes")
    rng = np.random.default_rng([int(seed), _fold_key(fold)])
    order = rng.permutation(len(pool))
    unseen = tuple(sorted(pool[i] for i in order[:n_unseen]))
    val_unseen = tuple(sorted(pool[i] for i in order[n_unseen : n_unseen + n_val]))
    held = set(unseen) | set(val_unseen)
    seen = tuple(c for c in clips.classes if c in train_side and c not in held)  # dataset order
    return ClassSplit(fold=fold, seed=int(seed), seen=seen, val_unseen=val_unseen, unseen=unseen,
                      pool=tuple(pool))


def class_indices(clips: ClipSet, names: Sequence[str]) -> np.ndarray:
    """Dataset label of each class name (ConfigError naming the first unknown one)."""
    index = {c: i for i, c in enumerate(clips.classes)}
    missing = [n for n in names if n not in index]
    if missing:
        raise ConfigError(f"{clips.name}: classes {missing} are not in the dataset")
    return np.asarray([index[n] for n in names], dtype=np.int64)


def seen_indices(clips: ClipSet, split: ClassSplit) -> np.ndarray:
    """Indices (into ``clips``) of every clip of a seen class, in dataset order: clip i of
    :func:`seen_clipset` is ``clips[seen_indices(...)[i]]``."""
    return np.flatnonzero(np.isin(clips.labels(), class_indices(clips, split.seen)))


def seen_clipset(clips: ClipSet, split: ClassSplit) -> ClipSet:
    """The clips of the seen classes only, relabelled to ``split.seen`` (in that order).

    Every signer's clips of the seen classes are kept, so ``traduttore-xsigner`` applied to the
    result trains and validates on the training side's seen-class clips and tests on the held-out
    signer's seen-class clips (the seen half of generalised zero-shot). Clips of unseen classes
    are gone from every split.
    """
    keep = seen_indices(clips, split)
    remap = np.full(len(clips.classes), -1, dtype=np.int64)
    remap[class_indices(clips, split.seen)] = np.arange(len(split.seen))
    labels = clips.labels()
    samples = [dataclasses.replace(clips[int(i)], label=int(remap[labels[i]])) for i in keep]
    meta = {k: np.asarray(v)[keep] for k, v in clips.meta.items()}
    return ClipSet(samples=samples, classes=list(split.seen), layout=clips.layout,
                   name=f"{clips.name}-seen-{split.fold}-{split.seed}", meta=meta)


def clip_indices(clips: ClipSet, classes: Sequence[str], signer: str, held_out: bool) -> np.ndarray:
    """Indices of the clips of ``classes`` recorded by ``signer`` (``held_out``) or by the others."""
    labels, signers = clips.labels(), clips.signers()
    of_class = np.isin(labels, class_indices(clips, classes))
    of_signer = (signers == signer) if held_out else (signers != signer)
    return np.flatnonzero(of_class & of_signer)
