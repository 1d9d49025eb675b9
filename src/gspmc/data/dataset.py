"""The torch Dataset: clips of a ClipSet -> model inputs ``(x (C, T, V), label)``.

Each item goes through `gspmc.pose.transforms.make_input`. Randomness (augmentation, random
temporal sampling) comes from a generator seeded by ``(seed, epoch, clip index)``, so an item is
the same whichever DataLoader worker makes it and however the workers are scheduled; call
`SkeletonDataset.set_epoch` at the start of each epoch to get fresh augmentations.

A clip in which nothing is observed (e.g. the 60 all-zero idle clips of traduttore) becomes an
all-zero input (make_input's rule: x = y = 0 and c = 0 everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import ConfigError
from gspmc.pose.layouts import get_layout
from gspmc.pose.transforms import AugmentConfig, InputConfig, make_input


class SkeletonDataset(Dataset):
    """Model inputs for the clips ``clips[indices]``.

    Args:
        clips: the ClipSet.
        indices: which clips (e.g. ``split.train``).
        input_cfg: how a clip becomes an input (layout, window, stream, normalisation).
        augment: training augmentation, or None (evaluation: deterministic, uniform sampling).
        seed: base seed of the per-item generators.
        cache: precompute every input once (only without augmentation; for test/validation sets
            evaluated every epoch). Inputs are computed in the constructor, with a progress bar.
    """

    def __init__(
        self,
        clips: ClipSet,
        indices: Sequence[int] | np.ndarray,
        input_cfg: InputConfig,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        self.clips = clips
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(clips)):
            raise ConfigError(f"SkeletonDataset: indices out of range for {len(clips)} clips of {clips.name!r}")
        # occurrence of each position's clip among the earlier positions (0 for the first): a clip
        # listed several times (a repeated subset) gets its own augmentation draws for each copy
        order = np.argsort(self.indices, kind="stable")
        sorted_idx = self.indices[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_idx)) + 1] if sorted_idx.size else np.zeros(0, np.int64)
        run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_idx.size]))
        self._copy = np.empty_like(self.indices)
        self._copy[order] = np.arange(sorted_idx.size) - run_start
        self.input_cfg = input_cfg
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self._num_joints = get_layout(input_cfg.layout).num_joints
        self._cache: np.ndarray | None = None
        if cache:
            if augment is not None:
                raise ConfigError("SkeletonDataset: cache=True is for evaluation sets (augment=None); "
                                  "augmented inputs change every epoch")
            self._cache = np.stack([self._make(i) for i in tqdm(
                range(len(self.indices)), desc=f"preparing {clips.name}", unit="clip",
                disable=len(self.indices) < 2000)]) if len(self.indices) else np.zeros(
                (0, input_cfg.channels, input_cfg.window, self._num_joints), np.float32)  # (N, C, T, V)

    def __len__(self) -> int:
        return int(self.indices.size)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before iterating each epoch)."""
        self.epoch = int(epoch)

    def labels(self) -> np.ndarray:
        """(N,) int64 labels of the items, in order."""
        return self.clips.labels()[self.indices]

    def rng_for(self, position: int) -> np.random.Generator:
        """The generator of item ``position`` in the current epoch: seeded by (seed, epoch, clip index),
        and the copy number for the second and later copies of a clip listed more than once."""
        key = [self.seed, self.epoch, int(self.indices[position])]
        copy = int(self._copy[position])
        return np.random.default_rng(key + [copy] if copy else key)

    def _make(self, position: int) -> np.ndarray:
        sample: Sample = self.clips.samples[int(self.indices[position])]
        rng = self.rng_for(position) if self.augment is not None else None
        score = sample.score if self.input_cfg.confidence == "score" else None  # c = mask otherwise
        return make_input(sample.coords, sample.mask, sample.layout, self.input_cfg, self.augment, rng,
                          score=score, source=f"{self.clips.name}:{sample.id}")  # (C, T, V)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= position < len(self):
            raise IndexError(position)
        position %= len(self)
        x = self._cache[position] if self._cache is not None else self._make(position)
        label = self.clips.samples[int(self.indices[position])].label
        return torch.from_numpy(np.array(x, dtype=np.float32, copy=True)), label
