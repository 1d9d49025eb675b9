"""Evaluation protocols: which clips train, which select the model (validation), which test.

Every accuracy gspmc reports names a protocol and fold from here, so the split is defined once.
Three generic protocols work on any data (``data.protocol`` in a config, `protocol_from_config`):

- ``leave-one-group-out`` (``data.group``: ``signer``, ``session`` or any ``ClipSet.meta`` column):
  one fold per group value. The fold's clips are the test set, restricted to the classes the
  training side also has (a model cannot name a class it never saw). The training side is every
  other group's clips; ``val_fraction`` (10%) of it, carved by clip and stratified by class
  (seeded), is the validation set used for model selection.
- ``group-kfold`` (``data.group``, ``data.k``): the groups dealt into k folds ``0`` .. ``k-1`` so that
  each fold's class mix is as close to the whole's as whole groups allow (stratified by class,
  seeded); a fold's groups are tested, the rest train as above.
- ``split-file`` (``data.split_file``): a CSV ``id,split`` (``train`` / ``val`` / ``test``) naming each
  clip's part; clips it does not list are not used; without ``val`` rows, validation is carved from
  ``train`` as above. One fold, ``file``.

Named presets of these (their folds fixed):

- ``traduttore-xsigner`` (folds ``TheCamNelson``, ``dmohazab``): leave-one-group-out over signers.
- ``autsl`` (fold ``official``): the challenge's own train / val / test lists, read from
  ``ClipSet.meta["split"]`` (`gspmc.data.readers.wholebody.read_autsl`). Signer-independent by design.
- ``slr500`` / ``slr500-gsp-mc`` (fold ``signers``): signers 1-35 train, 36-50 test (GSP-MC's
  setting, 87,500 / 37,500 clips); ``slr500-best``: 1-36 train, 37-50 test (90,000 / 35,000, as in
  BEST and SignBERT). SLR500 has no validation list: 10% of the training clips (by clip,
  stratified, seeded) select the model.

``protocol.fold_names(clips)`` lists the folds a protocol makes on some data (for ``--folds all``).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError, DataError


@dataclass(frozen=True)
class Split:
    """Index arrays into a ClipSet, plus what is needed to describe the split."""

    train: np.ndarray  # (N_train,) int64
    val: np.ndarray  # (N_val,) int64
    test: np.ndarray  # (N_test,) int64
    protocol: str = ""
    fold: str = ""
    seed: int = 0
    summary: dict[str, dict[str, object]] = field(default_factory=dict)  # part -> clips/classes/signers

    def describe(self) -> str:
        """A few lines: protocol, fold, seed and for each part its clip, class and signer counts."""
        lines = [f"protocol {self.protocol}, fold {self.fold}, seed {self.seed}"]
        for part in ("train", "val", "test"):
            info = self.summary.get(part, {"clips": len(getattr(self, part))})
            signers = info.get("signers")
            signer_text = f", signers: {', '.join(map(str, signers))}" if signers else ""
            classes = info.get("classes")
            class_text = f", {classes} classes" if classes is not None else ""
            lines.append(f"  {part:5s} {info['clips']:>7,} clips{class_text}{signer_text}")
        return "\n".join(lines)


def make_split(clips: ClipSet, train: np.ndarray, val: np.ndarray, test: np.ndarray,
               protocol: str, fold: str, seed: int) -> Split:
    """A Split with its summary (clips, distinct classes and signers per part)."""
    labels, signers = clips.labels(), clips.signers()
    summary: dict[str, dict[str, object]] = {}
    for part, idx in (("train", train), ("val", val), ("test", test)):
        names = sorted({str(s) for s in signers[idx] if s is not None})
        summary[part] = {"clips": int(len(idx)), "classes": int(len(np.unique(labels[idx]))),
                         "signers": names if len(names) <= 8 else [f"{len(names)} signers"]}
    as_idx = [np.sort(np.asarray(a, dtype=np.int64)) for a in (train, val, test)]
    return Split(*as_idx, protocol=protocol, fold=fold, seed=seed, summary=summary)


def stratified_holdout(indices: np.ndarray, labels: np.ndarray, fraction: float,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Carve ``round(fraction * len(indices))`` clips out of ``indices``, stratified by class.

    Each class gives ``fraction`` of its clips, rounded by largest remainder so the total is exact
    (ties broken at random); which clips is random. Returns (kept, carved), both sorted.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if not 0 <= fraction < 1:
        raise ConfigError(f"validation fraction must be in [0, 1), got {fraction}")
    total = int(round(fraction * len(indices)))
    if total == 0:
        return np.sort(indices), np.zeros(0, dtype=np.int64)
    classes, counts = np.unique(labels[indices], return_counts=True)
    quota = fraction * counts
    take = np.floor(quota).astype(np.int64)
    remainder = quota - take + rng.uniform(0, 1e-9, len(quota))  # random tie-break
    extra = total - int(take.sum())
    if extra > 0:
        take[np.argsort(-remainder)[:extra]] += 1
    carved = []
    for cls, k in zip(classes, take, strict=True):
        members = indices[labels[indices] == cls]
        carved.append(rng.choice(members, size=int(k), replace=False))
    carved_idx = np.sort(np.concatenate(carved))
    kept = np.setdiff1d(indices, carved_idx)
    return kept, carved_idx


def group_values(clips: ClipSet, group: str) -> np.ndarray:
    """(N,) str array of each clip's ``group``: ``signer`` (``Sample.signer``, "" where unknown) or a
    ``ClipSet.meta`` column (e.g. ``session``). Raises ConfigError naming the groups the data has."""
    if group == "signer":
        return np.asarray(["" if s is None else str(s) for s in clips.signers()], dtype=object)
    if group in clips.meta:
        return np.asarray([str(v) for v in clips.meta[group]], dtype=object)
    known = ["signer", *sorted(clips.meta)]
    raise ConfigError(f"data.group: {clips.name!r} has no per-clip {group!r}; it has: {', '.join(known)}")


def _held_out_split(clips: ClipSet, held: np.ndarray, name: str, fold: str, seed: int,
                    val_fraction: float, val_held: np.ndarray | None = None) -> Split:
    """Test = the ``held`` clips of classes the rest has; train/val = the rest, val carved by clip.

    ``val_held`` (N,) bool: validate on these clips instead (a training-side group held out for
    model selection), restricted to the classes the remaining training clips have; they do not train.
    """
    labels = clips.labels()
    if val_held is not None:  # the model trains on neither the test nor the validation group
        train = np.flatnonzero(~held & ~val_held & (labels >= 0))
        val = np.flatnonzero(val_held & ~held & np.isin(labels, labels[train]))
        test = np.flatnonzero(held & np.isin(labels, labels[train]))
        return make_split(clips, train, val, test, name, fold, seed)
    train_side = np.flatnonzero(~held & (labels >= 0))
    test = np.flatnonzero(held & np.isin(labels, labels[train_side]))
    rng = np.random.default_rng([seed, _fold_key(fold)])
    train, val = stratified_holdout(train_side, labels, val_fraction, rng)
    return make_split(clips, train, val, test, name, fold, seed)


def _check_fold(name: str, folds: Sequence[str], fold: str | None) -> str:
    if fold not in folds:
        raise ConfigError(f"protocol {name!r} has folds {list(folds)}, not {fold!r}")
    return str(fold)


@dataclass(frozen=True)
class LeaveOneGroupOut:
    """Test on one group's clips (restricted to classes the other groups have), train on the others.

    ``folds``: the allowed fold values (a preset's); None: every group value in the data.
    ``val_group``: a training-side group value whose clips validate (held-out-group validation:
    model selection on a signer the model does not train on either) instead of the 10% carved by clip.
    """

    name: str
    group: str = "signer"
    folds: tuple[str, ...] | None = None
    val_fraction: float = 0.1
    val_group: str | None = None

    def fold_names(self, clips: ClipSet) -> list[str]:
        if self.folds is not None:
            return list(self.folds)
        return sorted({v for v in group_values(clips, self.group) if v})

    def split(self, clips: ClipSet, fold: str, seed: int = 0) -> Split:
        groups = group_values(clips, self.group)
        if self.folds is not None:
            _check_fold(self.name, self.folds, fold)
        elif fold not in set(groups) or not fold:
            raise ConfigError(f"protocol {self.name!r} (group {self.group}): {fold!r} is not a fold; the "
                              f"{self.group} values of {clips.name!r} are {', '.join(self.fold_names(clips))}")
        held = groups == fold
        if not held.any():
            raise ConfigError(f"protocol {self.name!r}: no clip of {self.group} {fold!r} in {clips.name!r}")
        val_held = None
        if self.val_group is not None:
            if self.val_group == fold:
                raise ConfigError(f"data.val_group: {self.val_group!r} is the held-out (test) {self.group}; "
                                  "name a training-side one")
            val_held = groups == self.val_group
            if not val_held.any():
                raise ConfigError(f"data.val_group: no clip of {self.group} {self.val_group!r} in {clips.name!r} "
                                  f"(its {self.group} values: {', '.join(sorted({g for g in groups if g}))})")
        return _held_out_split(clips, held, self.name, fold, seed, self.val_fraction, val_held)


HeldOutSigner = LeaveOneGroupOut  # the signer case (name kept for readers of older code)


@dataclass(frozen=True)
class GroupKFold:
    """k folds of whole groups, stratified by class: fold ``i`` tests its groups, the others train.
    Clips without a group value ("", e.g. an unknown signer) are in no fold: they always train."""

    name: str
    group: str = "signer"
    k: int = 5
    val_fraction: float = 0.1

    def fold_names(self, clips: ClipSet | None = None) -> list[str]:
        return [str(i) for i in range(self.k)]

    @property
    def folds(self) -> tuple[str, ...]:
        return tuple(self.fold_names())

    def assign(self, clips: ClipSet, seed: int = 0) -> dict[str, int]:
        """Group value -> fold index. Largest groups first (ties in a seeded order), each to the fold
        where the class proportions (fold count / class total) stay most even, then the smallest fold."""
        groups, labels = group_values(clips, self.group), clips.labels()
        names = sorted({g for g in groups if g})
        if self.k < 2 or len(names) < self.k:
            raise ConfigError(f"protocol {self.name!r}: k={self.k} folds need k >= 2 and at least k "
                              f"{self.group} values; {clips.name!r} has {len(names)}")
        classes, class_of = np.unique(labels, return_inverse=True)  # labels -1 dropped below
        position = {g: i for i, g in enumerate(names)}
        group_of = np.array([position.get(g, -1) for g in groups], dtype=np.int64)  # (N,) -1: no group
        known = (group_of >= 0) & (labels >= 0)
        table = np.zeros((len(names), len(classes)))  # (G, C) clips per group and class, one pass (94k clips)
        np.add.at(table, (group_of[known], class_of[known]), 1.0)
        keep = classes >= 0
        counts = {g: table[i, keep] for i, g in enumerate(names)}
        totals = np.maximum(sum(counts.values()), 1.0)  # (C,)
        tie = np.random.default_rng([seed, _fold_key(self.name)]).permutation(len(names))
        order = sorted(range(len(names)), key=lambda i: (-counts[names[i]].sum(), tie[i]))
        fold_counts = np.zeros((self.k, int(keep.sum())))
        out: dict[str, int] = {}
        for i in order:
            g = names[i]
            costs = []
            for f in range(self.k):
                trial = fold_counts.copy()
                trial[f] += counts[g]
                costs.append((float(np.var(trial / totals, axis=0).sum()), float(trial[f].sum()), f))
            best = min(costs)[2]
            fold_counts[best] += counts[g]
            out[g] = best
        return out

    def split(self, clips: ClipSet, fold: str, seed: int = 0) -> Split:
        index = int(_check_fold(self.name, self.fold_names(), str(fold)))
        assigned = self.assign(clips, seed)
        groups = group_values(clips, self.group)
        held = np.isin(groups, [g for g, f in assigned.items() if f == index])
        return _held_out_split(clips, held, self.name, str(fold), seed, self.val_fraction)


@dataclass(frozen=True)
class SplitFile:
    """Each clip's part from a CSV ``id,split`` (train / val / test); unlisted clips are not used."""

    name: str
    path: str
    val_fraction: float = 0.1
    folds: tuple[str, ...] = ("file",)

    def fold_names(self, clips: ClipSet | None = None) -> list[str]:
        return list(self.folds)

    def split(self, clips: ClipSet, fold: str = "file", seed: int = 0) -> Split:
        from gspmc.data.readers._common import read_label_table

        _check_fold(self.name, self.folds, fold)
        path = Path(self.path)
        rows = read_label_table(path)
        position = {cid: i for i, cid in enumerate(clips.ids())}
        parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
        seen: set[str] = set()
        for cid, part in rows:
            key = part.strip().lower()
            if key not in parts:
                raise DataError(path, f"clip {cid!r}: split {part!r} is not train, val or test")
            if cid not in position:
                raise DataError(path, f"clip {cid!r} is not in {clips.name!r} (ids look like "
                                      f"{clips.ids()[0]!r})")
            if cid in seen:
                raise DataError(path, f"clip {cid!r} is listed twice")
            seen.add(cid)
            parts[key].append(position[cid])
        train, val = np.asarray(parts["train"], np.int64), np.asarray(parts["val"], np.int64)
        if not len(val):
            rng = np.random.default_rng([seed, _fold_key(fold)])
            train, val = stratified_holdout(train, clips.labels(), self.val_fraction, rng)
        return make_split(clips, train, val, np.asarray(parts["test"], np.int64), self.name, fold, seed)


@dataclass(frozen=True)
class SignerRanges:
    """Signers given by number: train on ``train_signers``, test on ``test_signers``; validation
    carved from the training clips by clip (stratified, seeded)."""

    name: str
    train_signers: tuple[int, ...]
    test_signers: tuple[int, ...]
    val_fraction: float = 0.1
    folds: tuple[str, ...] = ("signers",)

    def fold_names(self, clips: ClipSet | None = None) -> list[str]:
        return list(self.folds)

    def split(self, clips: ClipSet, fold: str = "signers", seed: int = 0) -> Split:
        if fold not in self.folds:
            raise ConfigError(f"protocol {self.name!r} has folds {list(self.folds)}, not {fold!r}")
        numbers = _signer_numbers(clips, self.name)
        labels = clips.labels()
        train_side = np.flatnonzero(np.isin(numbers, self.train_signers) & (labels >= 0))
        test = np.flatnonzero(np.isin(numbers, self.test_signers) & (labels >= 0))
        rng = np.random.default_rng([seed, _fold_key(fold)])
        train, val = stratified_holdout(train_side, labels, self.val_fraction, rng)
        return make_split(clips, train, val, test, self.name, fold, seed)


@dataclass(frozen=True)
class ListedSplit:
    """The dataset's own lists, stored by the reader as ``meta["split"]`` (train / val / test)."""

    name: str
    folds: tuple[str, ...] = ("official",)

    def fold_names(self, clips: ClipSet | None = None) -> list[str]:
        return list(self.folds)

    def split(self, clips: ClipSet, fold: str = "official", seed: int = 0) -> Split:
        if fold not in self.folds:
            raise ConfigError(f"protocol {self.name!r} has folds {list(self.folds)}, not {fold!r}")
        if "split" not in clips.meta:
            raise ConfigError(f"protocol {self.name!r} needs a ClipSet read with its split lists "
                              f"(meta['split']); {clips.name!r} has none")
        part = np.asarray(clips.meta["split"]).astype(str)
        idx = {p: np.flatnonzero(part == p) for p in ("train", "val", "test")}
        return make_split(clips, idx["train"], idx["val"], idx["test"], self.name, fold, seed)


Protocol = LeaveOneGroupOut | GroupKFold | SplitFile | SignerRanges | ListedSplit
GENERIC = ("leave-one-group-out", "group-kfold", "split-file")


def _fold_key(fold: str) -> int:
    """A stable integer for a fold name (seeds the per-fold generator; not Python's salted hash)."""
    return zlib.crc32(fold.encode("utf-8"))


def _signer_numbers(clips: ClipSet, protocol: str) -> np.ndarray:
    out = np.empty(len(clips), dtype=np.int64)
    for i, s in enumerate(clips.signers()):
        try:
            out[i] = int(str(s))
        except ValueError:
            raise ConfigError(f"protocol {protocol!r} needs numeric signers; clip {clips[i].id!r} has "
                              f"signer {s!r} (read SLR500 with a signer_pattern)") from None
    return out


_SLR500_GSPMC = SignerRanges("slr500", tuple(range(1, 36)), tuple(range(36, 51)))
_PROTOCOLS: dict[str, Callable[[], Protocol]] = {
    "traduttore-xsigner": lambda: LeaveOneGroupOut("traduttore-xsigner", "signer", ("TheCamNelson", "dmohazab")),
    "autsl": lambda: ListedSplit("autsl"),
    "slr500": lambda: _SLR500_GSPMC,
    "slr500-gsp-mc": lambda: SignerRanges("slr500-gsp-mc", tuple(range(1, 36)), tuple(range(36, 51))),
    "slr500-best": lambda: SignerRanges("slr500-best", tuple(range(1, 37)), tuple(range(37, 51))),
}


def list_protocols() -> list[str]:
    """The presets' names and the generic protocols'."""
    return sorted([*_PROTOCOLS, *GENERIC])


def get_protocol(name: str, group: str = "signer", k: int = 5, split_file: str | None = None,
                 val_fraction: float = 0.1, val_group: str | None = None) -> Protocol:
    """The preset ``name``, or a generic protocol built from the other arguments (module docstring).

    ``val_group`` (held-out-group validation) applies to leave-one-group-out protocols only."""
    if val_group is not None:
        base = get_protocol(name, group, k, split_file, val_fraction)
        if not isinstance(base, LeaveOneGroupOut):
            raise ConfigError(f"data.val_group: held-out-group validation needs a leave-one-group-out "
                              f"protocol; {name!r} is not one")
        return dataclasses.replace(base, val_group=str(val_group))
    if name in _PROTOCOLS:
        return _PROTOCOLS[name]()
    if name == "leave-one-group-out":
        return LeaveOneGroupOut(name, group, None, val_fraction)
    if name == "group-kfold":
        return GroupKFold(name, group, k, val_fraction)
    if name == "split-file":
        if not split_file:
            raise ConfigError("protocol 'split-file' needs data.split_file (a CSV id,split)")
        return SplitFile(name, str(split_file), val_fraction)
    raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(list_protocols())}")


def held_out_signer(name: str, folds: Sequence[str], val_fraction: float = 0.1) -> LeaveOneGroupOut:
    """A leave-one-signer-out protocol with fixed folds (the signer case of `LeaveOneGroupOut`)."""
    return LeaveOneGroupOut(name, "signer", tuple(folds), val_fraction)
