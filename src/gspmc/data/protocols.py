"""Evaluation protocols: which clips train, which select the model (validation), which test.

Every accuracy gspmc reports names a protocol and fold from here, so the split is defined once.

- ``traduttore-xsigner`` (folds ``TheCamNelson``, ``dmohazab``): signer-independent. The held-out
  recorder's clips are the test set, restricted to the classes the training side also has (a model
  cannot name a class it never saw). The training side is every other recorder's clip; 10% of it,
  carved by clip and stratified by class (seeded), is the validation set used for model selection.
- ``autsl`` (fold ``official``): the challenge's own train / val / test lists, read from
  ``ClipSet.meta["split"]`` (`gspmc.data.readers.wholebody.read_autsl`). Signer-independent by design.
- ``slr500`` / ``slr500-gsp-mc`` (fold ``signers``): signers 1-35 train, 36-50 test (GSP-MC's
  setting, 87,500 / 37,500 clips); ``slr500-best``: 1-36 train, 37-50 test (90,000 / 35,000, as in
  BEST and SignBERT). SLR500 has no validation list: 10% of the training clips (by clip,
  stratified, seeded) select the model.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError


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


@dataclass(frozen=True)
class HeldOutSigner:
    """Train on every other signer, test on one (restricted to classes the training side has)."""

    name: str
    folds: tuple[str, ...]
    val_fraction: float = 0.1

    def split(self, clips: ClipSet, fold: str, seed: int = 0) -> Split:
        if fold not in self.folds:
            raise ConfigError(f"protocol {self.name!r} has folds {list(self.folds)}, not {fold!r}")
        signers = clips.signers()
        if not np.any(signers == fold):
            raise ConfigError(f"protocol {self.name!r}: no clip of signer {fold!r} in {clips.name!r}")
        labels = clips.labels()
        held = signers == fold
        train_side = np.flatnonzero(~held & (labels >= 0))
        test = np.flatnonzero(held & np.isin(labels, labels[train_side]))
        rng = np.random.default_rng([seed, _fold_key(fold)])
        train, val = stratified_holdout(train_side, labels, self.val_fraction, rng)
        return make_split(clips, train, val, test, self.name, fold, seed)


@dataclass(frozen=True)
class SignerRanges:
    """Signers given by number: train on ``train_signers``, test on ``test_signers``; validation
    carved from the training clips by clip (stratified, seeded)."""

    name: str
    train_signers: tuple[int, ...]
    test_signers: tuple[int, ...]
    val_fraction: float = 0.1
    folds: tuple[str, ...] = ("signers",)

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

    def split(self, clips: ClipSet, fold: str = "official", seed: int = 0) -> Split:
        if fold not in self.folds:
            raise ConfigError(f"protocol {self.name!r} has folds {list(self.folds)}, not {fold!r}")
        if "split" not in clips.meta:
            raise ConfigError(f"protocol {self.name!r} needs a ClipSet read with its split lists "
                              f"(meta['split']); {clips.name!r} has none")
        part = np.asarray(clips.meta["split"]).astype(str)
        idx = {p: np.flatnonzero(part == p) for p in ("train", "val", "test")}
        return make_split(clips, idx["train"], idx["val"], idx["test"], self.name, fold, seed)


Protocol = HeldOutSigner | SignerRanges | ListedSplit


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
    "traduttore-xsigner": lambda: HeldOutSigner("traduttore-xsigner", ("TheCamNelson", "dmohazab")),
    "autsl": lambda: ListedSplit("autsl"),
    "slr500": lambda: _SLR500_GSPMC,
    "slr500-gsp-mc": lambda: SignerRanges("slr500-gsp-mc", tuple(range(1, 36)), tuple(range(36, 51))),
    "slr500-best": lambda: SignerRanges("slr500-best", tuple(range(1, 37)), tuple(range(37, 51))),
}


def list_protocols() -> list[str]:
    return sorted(_PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name`` (see the module docstring)."""
    try:
        return _PROTOCOLS[name]()
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(list_protocols())}") from None


def held_out_signer(name: str, folds: Sequence[str], val_fraction: float = 0.1) -> HeldOutSigner:
    """A leave-one-signer-out protocol for any ClipSet with signers (e.g. your own recordings)."""
    return HeldOutSigner(name, tuple(folds), val_fraction)
