"""The Lightning data module: reads a dataset, splits it by a named protocol, builds torch datasets.

Splits come from ``gspmc.data.protocols`` only (one definition of each protocol); the training
set is augmented, validation and test are not. Shuffling uses a generator seeded from the run's
seed, and worker processes are seeded by Lightning (``seed_everything(..., workers=True)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from gspmc.errors import ConfigError, DataError
from gspmc.train.config import Config


def load_clips(cfg: Config) -> Any:
    """Read the configured dataset (a ClipSet); a clear error when the data is missing.

    ``data.dataset`` is a registered name (``traduttore``) read from its default place when
    ``data.path`` is null, a reader format (``mp-npz``, ``mp-data``, ``pose``, ``videos``, ``autsl``,
    ``slr500``, ``wholebody``, ..., see :mod:`gspmc.data.registry`) applied to ``data.path``, or
    ``auto``: the format guessed from ``data.path`` (an npz, an MP_Data tree, a folder of ``.pose``
    files or of videos). ``traduttore`` with a path reads that file as packed MP_Data clips.
    ``data.options`` go to the reader.
    """
    from gspmc.data.registry import FORMATS, load_dataset

    d = cfg.data
    if d.path is None:
        if d.dataset == "auto":
            raise ConfigError("data.path: dataset 'auto' reads your own data; set data.path to an npz, an "
                              "MP_Data tree, or a folder of .pose files or videos")
        return load_dataset(d.dataset, **d.options)
    if d.dataset == "auto":
        fmt = None
    else:
        fmt = d.dataset if d.dataset in FORMATS else ("mp-npz" if d.dataset == "traduttore" else "")
        if not fmt:
            raise ConfigError(f"data.dataset: {d.dataset!r} is neither a dataset name nor a reader format "
                              f"({', '.join(FORMATS)}, or auto) to read data.path with")
    try:
        return load_dataset(d.path, format=fmt, **d.options)
    except FileNotFoundError as err:
        raise DataError(d.path, f"not found ({err})") from None


def get_data_protocol(cfg: Config) -> Any:
    """The configured protocol: a preset, or a generic one built from data.group / k / split_file."""
    from gspmc.data.protocols import get_protocol

    d = cfg.data
    try:
        return get_protocol(d.protocol, group=d.group, k=d.k, split_file=d.split_file,
                            val_fraction=d.val_fraction, val_group=d.val_group)
    except ConfigError as err:
        raise ConfigError(f"data.protocol: {err}") from None


def resolve_folds(cfg: Config, folds: list[str] | None, clips: Any | None = None) -> list[str]:
    """The folds to run: ``folds`` (``--folds``) or the config's ``data.fold``; ``all`` expands to every
    fold the protocol makes on the data (read only then, or taken from ``clips``)."""
    wanted = list(folds) if folds else [cfg.data.fold]
    if "all" not in wanted:
        return [str(f) for f in wanted]
    protocol = get_data_protocol(cfg)
    if clips is None and getattr(protocol, "folds", None) is None:
        clips = load_clips(cfg)
    every = protocol.fold_names(clips)
    return list(dict.fromkeys(f for w in wanted for f in (every if w == "all" else [str(w)])))


def make_split(cfg: Config, clips: Any) -> Any:
    """``Split(train, val, test)`` index arrays from the configured protocol and fold."""
    protocol = get_data_protocol(cfg)
    fold = cfg.data.fold
    folds = protocol.fold_names(clips)
    if fold == "all":
        raise ConfigError(f"data.fold: 'all' means every fold ({', '.join(folds)}): run them with "
                          "`gspmc grid --folds all`; `gspmc fit` trains one fold")
    if fold is None and len(folds) == 1:
        fold = folds[0]
    if fold is None:
        raise ConfigError(f"data.fold: choose the fold to hold out, one of {', '.join(map(str, folds))} "
                          "(--set data.fold=...), or run every fold with `gspmc grid --folds all`")
    if fold not in folds:
        raise ConfigError(f"data.fold: {fold!r} is not a fold of {cfg.data.protocol} ({', '.join(map(str, folds))})")
    return protocol.split(clips, fold, cfg.data.split_seed)


def window_from_data(clips: Any, indices: np.ndarray | None = None) -> int:
    """The input window a dataset suggests: the median number of frames (rounded) over the clips at
    ``indices`` (the training split; None: every clip)."""
    idx = np.arange(len(clips)) if indices is None else np.asarray(indices, np.int64)
    lengths = np.fromiter((clips.samples[i].num_frames for i in idx), dtype=np.int64, count=len(idx))
    return max(1, int(round(float(np.median(lengths))))) if len(lengths) else 1


def resolve_from_data(cfg: Config, clips: Any, train: np.ndarray | None = None) -> Config:
    """The config with the settings that come from the data filled in (``input.window: auto``: the
    median length of the training clips ``train``, so no validation or test clip shapes the input)."""
    import dataclasses

    if not cfg.data.window_from_data:
        return cfg
    window = window_from_data(clips, train)
    return dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, window=window),
                               data=dataclasses.replace(cfg.data, window_from_data=False))


def make_dataset(cfg: Config, clips: Any, indices: np.ndarray, train: bool, seed: int) -> Dataset:
    """A SkeletonDataset over ``indices`` (augmented only when ``train``)."""
    from gspmc.data.dataset import SkeletonDataset

    if train:
        return SkeletonDataset(clips, np.asarray(indices), cfg.input, cfg.augment, seed)
    # evaluation inputs do not change between epochs: compute them once
    return SkeletonDataset(clips, np.asarray(indices), cfg.input, None, seed, cache=True)


class EpochShuffle(Sampler[int]):
    """A random order that depends only on (seed, epoch): a resumed run sees the same batches.

    Lightning calls ``set_epoch`` before each training epoch (also after a resume).
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class SkeletonDataModule(L.LightningDataModule):
    """Train / val / test loaders for one config; ``clips`` may be given to skip reading the dataset."""

    def __init__(self, cfg: Config, clips: Any | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.clips = clips
        self.split: Any = None
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.split is not None:
            return
        if self.clips is None:
            self.clips = load_clips(self.cfg)
        self.split = make_split(self.cfg, self.clips)
        self.cfg = resolve_from_data(self.cfg, self.clips, self.split.train)
        for name in ("train", "val", "test"):
            if len(getattr(self.split, name)) == 0 and name != "test":
                raise DataError(self.cfg.data.path, f"{self.cfg.data.protocol}/{self.cfg.data.fold}: the {name} split is empty")
        seed = self.cfg.trainer.seed
        train = self.split.train
        if self.cfg.data.per_class is not None:  # data-efficiency runs (issue 20): k clips per class
            train = self._per_class(train)
        self.train_set = make_dataset(self.cfg, self.clips, train, True, seed)
        self.val_set = make_dataset(self.cfg, self.clips, self.split.val, False, seed)
        self.test_set = make_dataset(self.cfg, self.clips, self.split.test, False, seed)

    def _per_class(self, full: np.ndarray) -> np.ndarray:
        """The k-per-class subset of the training split (``split.train`` becomes it); with
        ``data.match_steps`` the training set lists it until it is as long as the full split, so the
        run has the full split's optimisation steps per epoch (gspmc.data.subsets)."""
        import dataclasses

        from gspmc.data.subsets import per_class_subset, repeat_to

        d = self.cfg.data
        seed = self.cfg.trainer.seed if d.per_class_seed is None else d.per_class_seed
        subset = per_class_subset(full, self.clips.labels(), int(d.per_class), int(seed))
        self.split = dataclasses.replace(self.split, train=subset)
        return repeat_to(subset, len(full)) if d.match_steps else subset

    @property
    def classes(self) -> list[str]:
        return list(self.clips.classes)

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        t = self.cfg.trainer
        return DataLoader(
            ds,
            batch_size=self.cfg.optim.batch_size if train else t.eval_batch_size,
            sampler=EpochShuffle(len(ds), self.cfg.trainer.seed) if train else None,
            shuffle=False,
            drop_last=False,
            num_workers=t.num_workers,
            # training workers are re-created each epoch so they see the dataset's set_epoch
            persistent_workers=t.num_workers > 0 and not train,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, False)

    def split_info(self) -> dict[str, Any]:
        """Clip and class counts per split, for reports."""
        labels = self.clips.labels()
        out = {}
        for name in ("train", "val", "test"):
            idx = np.asarray(getattr(self.split, name))
            out[name] = {"clips": int(len(idx)), "classes": int(len(np.unique(labels[idx]))) if len(idx) else 0}
        return out
