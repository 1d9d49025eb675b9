"""The open-vocabulary protocol: train GSP-MC on the seen classes of a class split, then evaluate.

One run per (description store, fold, split seed), and one CE-only run per (fold, split seed) as the
few-shot / attribute baseline without text (``store=None``, tag ``ce``)::

    <root>/<store tag or ce>/<fold>/split<seed>/  a normal `gspmc fit` run folder (best.ckpt, result.json, ...)
        openvocab_split.json                      the ClassSplit (seen / val_unseen / unseen classes)
        openvocab_eval.json                       zero-shot, generalised zero-shot, few-shot, baseline
                                                  (gspmc.openvocab.evaluate.evaluate_run)

Training is a shipped recipe (``traduttore-ctrgcn`` by default; any config name) with GSP-MC on
(``mc.enabled=true``) and the given description store (or off, for the CE baseline; the same seed, so
the two arms of a split draw the same data order), on :func:`gspmc.openvocab.splits.seen_clipset` (seen classes only): the
protocol's own validation split (10% of the training side's seen-class clips) picks the epoch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gspmc.data.sample import ClipSet
from gspmc.io import read_json, write_json
from gspmc.openvocab.splits import ClassSplit, make_class_split, seen_clipset

SPLIT_FILE = "openvocab_split.json"
EVAL_FILE = "openvocab_eval.json"
FOLDS: tuple[str, ...] = ("TheCamNelson", "dmohazab")
CE_TAG = "ce"  # the folder of the CE-only runs (no description store, no text space)


def store_tag(store: str | os.PathLike[str] | None) -> str:
    """A folder name for a description store: its file name without ``.jsonl`` (``traduttore_asl33``);
    ``ce`` for ``None`` (the CE-only baseline)."""
    if store is None:
        return CE_TAG
    name = Path(store).name
    name = re.sub(r"\.jsonl$", "", name)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def run_dir(root: str | os.PathLike[str], store: str | os.PathLike[str] | None, split: ClassSplit) -> Path:
    """``<root>/<store tag>/<fold>/split<seed>`` (``<root>/ce/...`` for ``store=None``)."""
    return Path(root) / store_tag(store) / split.fold / f"split{split.seed}"


def split_config(store: str | os.PathLike[str] | None, split: ClassSplit, config: str = "traduttore-ctrgcn",
                 overrides: Sequence[str] = (), cache: str | os.PathLike[str] | None = None) -> Any:
    """The training config: ``config`` + GSP-MC on with ``store`` (off when ``store`` is None), the split's
    fold, trainer seed = split seed; ``cache``: where the store's embedding cache goes (default: next to
    the store)."""
    from gspmc.train.config import load_config

    text = ["mc.enabled=false"] if store is None else [
        "mc.enabled=true",
        f"mc.options.store={Path(store)}",
        *([f"mc.options.cache={Path(cache)}"] if cache is not None else [])]
    sets = [
        *text,
        f"data.fold={split.fold}",
        f"trainer.seed={split.seed}",
        f"name=openvocab-{store_tag(store)}-{split.fold}-{split.seed}",
        "trainer.progress_bar=false",
        *overrides,
    ]
    from gspmc.train.config import find_config

    return load_config(find_config(config), sets)


def train_split(clips: ClipSet, store: str | os.PathLike[str] | None, split: ClassSplit,
                root: str | os.PathLike[str], config: str = "traduttore-ctrgcn",
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Train (or resume, or skip when complete) the run of one split: GSP-MC with ``store``, or CE only
    when ``store`` is None; returns its result.json."""
    from gspmc.train.fit import fit, read_result

    out = run_dir(root, store, split)
    done = read_result(out)
    if done is not None:
        return done
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SPLIT_FILE, {**split.to_json(), "store": None if store is None else str(store),
                                  "store_sha256": None if store is None else file_sha256(store), "config": config})
    cfg = split_config(store, split, config, overrides, cache=Path(root) / "cache" / f"{store_tag(store)}.emb.npz")
    return fit(cfg, out, clips=seen_clipset(clips, split))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file (records which version of a description store a run used)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_split(folder: str | os.PathLike[str]) -> ClassSplit:
    """The ClassSplit a run folder was trained with."""
    raw = read_json(Path(folder) / SPLIT_FILE)
    return ClassSplit(fold=str(raw["fold"]), seed=int(raw["seed"]), seen=tuple(raw["seen"]),
                      val_unseen=tuple(raw["val_unseen"]), unseen=tuple(raw["unseen"]), pool=tuple(raw["pool"]))


def all_splits(clips: ClipSet, seeds: Sequence[int], folds: Sequence[str] = FOLDS,
               n_unseen: int = 6, n_val: int = 3) -> list[ClassSplit]:
    """The protocol's splits: every fold x every seed."""
    return [make_class_split(clips, f, s, n_unseen=n_unseen, n_val=n_val) for f in folds for s in seeds]
