"""The typed clip every reader produces (`Sample`) and the set of clips a dataset is (`ClipSet`).

A `Sample` is validated when it is made, so code downstream (transforms, the torch dataset) can
rely on: coordinates finite everywhere, a boolean mask of the same (T, V), at least one frame and
one joint. Missing joints are masked (mask False, coordinates 0), never silent zeros. A clip in which
no joint is observed at all is valid (e.g. the idle class of a recording with nobody in view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gspmc.errors import DataError


@dataclass(frozen=True)
class Sample:
    """One clip of keypoints.

    Attributes:
        coords: (T, V, D) float32, D = 2 or 3; finite everywhere (0 where the joint is missing).
        mask: (T, V) bool, True where the joint was observed.
        layout: the keypoint layout's registry name (gspmc.pose.layouts).
        label: index into the ClipSet's classes (-1: unknown).
        id: a clip id, unique within its ClipSet.
        signer: who signs (None: unknown).
        score: (T, V) float32 detector confidence, if the source has one.

    Raises:
        DataError: (path None, the message names the clip id) on inconsistent shapes, non-finite
            coordinates, an empty clip (no frame or no joint) or a label below -1.
    """

    coords: np.ndarray
    mask: np.ndarray
    layout: str
    label: int
    id: str
    signer: str | None = None
    score: np.ndarray | None = None

    def __post_init__(self) -> None:
        def bad(problem: str) -> DataError:
            return DataError(None, f"clip {self.id!r}: {problem}")

        coords = np.asarray(self.coords)
        mask = np.asarray(self.mask)
        if coords.ndim != 3 or coords.shape[-1] not in (2, 3):
            raise bad(f"coords must have shape (T, V, 2|3), got {coords.shape}")
        if not np.issubdtype(coords.dtype, np.number):
            raise bad(f"coords must be numeric, got dtype {coords.dtype}")
        if mask.shape != coords.shape[:2]:
            raise bad(f"mask shape {mask.shape} does not match coords {coords.shape[:2]}")
        if mask.dtype != np.bool_:
            raise bad(f"mask must be bool, got dtype {mask.dtype}")
        if coords.shape[0] == 0 or coords.shape[1] == 0:
            raise bad(f"empty clip (shape {coords.shape})")
        coords = coords.astype(np.float32, copy=False)
        if not np.isfinite(coords).all():
            raise bad("coords contain NaN or inf")
        if not isinstance(self.label, int | np.integer) or int(self.label) < -1:
            raise bad(f"label must be an int >= -1, got {self.label!r}")
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "label", int(self.label))
        if self.score is not None:
            score = np.asarray(self.score)
            if score.shape != mask.shape:
                raise bad(f"score shape {score.shape} does not match mask {mask.shape}")
            score = score.astype(np.float32, copy=False)
            if not np.isfinite(score).all():
                raise bad("score contains NaN or inf")
            object.__setattr__(self, "score", score)

    @property
    def num_frames(self) -> int:
        return int(self.coords.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.coords.shape[1])


@dataclass
class ClipSet:
    """The clips of one dataset, all in one layout, with their class list.

    Attributes:
        samples: the clips.
        classes: class names; ``Sample.label`` indexes this list.
        layout: the layout every sample is in.
        name: a short name for reports (e.g. ``traduttore``).
        meta: optional per-clip arrays of length ``len(samples)`` (e.g. ``"split"`` for benchmarks
            that ship their own train/val/test lists, ``"session"``); kept aligned by `subset`.
    """

    samples: list[Sample]
    classes: list[str]
    layout: str
    name: str
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        if len(set(self.classes)) != len(self.classes):
            raise DataError(None, f"{self.name}: duplicate class names in the class list")
        num_classes = len(self.classes)
        for sample in self.samples:
            if sample.layout != self.layout:
                raise DataError(
                    None, f"{self.name}: clip {sample.id!r} is in layout {sample.layout!r}, not {self.layout!r}"
                )
            if sample.label >= num_classes:
                raise DataError(
                    None,
                    f"{self.name}: clip {sample.id!r} has label {sample.label}, outside the "
                    f"{num_classes} classes",
                )
        for key, values in self.meta.items():
            if len(values) != len(self.samples):
                raise DataError(
                    None, f"{self.name}: meta[{key!r}] has {len(values)} entries for {len(self.samples)} clips"
                )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def labels(self) -> np.ndarray:
        """(N,) int64 labels (-1 for unknown)."""
        return np.fromiter((s.label for s in self.samples), dtype=np.int64, count=len(self.samples))

    def signers(self) -> np.ndarray:
        """(N,) object array of signer names (None where unknown)."""
        out = np.empty(len(self.samples), dtype=object)
        out[:] = [s.signer for s in self.samples]
        return out

    def ids(self) -> list[str]:
        return [s.id for s in self.samples]

    def class_counts(self) -> np.ndarray:
        """(K,) int64 number of clips per class (unknown labels are not counted)."""
        labels = self.labels()
        return np.bincount(labels[labels >= 0], minlength=len(self.classes)).astype(np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray, name: str | None = None) -> ClipSet:
        """The clips at ``indices`` (same classes and layout; meta sliced alike)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self.samples) or idx.max() >= len(self.samples)):
            raise IndexError(f"{self.name}: subset index out of range for {len(self.samples)} clips")
        return ClipSet(
            samples=[self.samples[i] for i in idx],
            classes=list(self.classes),
            layout=self.layout,
            name=name or self.name,
            meta={k: np.asarray(v)[idx] for k, v in self.meta.items()},
        )
