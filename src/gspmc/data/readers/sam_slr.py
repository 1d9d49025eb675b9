"""Reader for SAM-SLR training arrays: ``data.npy`` (N, C, T, V, M) plus a label file.

SAM-SLR (Jiang et al., 2021) packs its keypoints as (N, C=3, T, V=27, M=1) float arrays: channels
x, y, detector score; the 27 points are its selection from COCO-WholeBody (layout ``sam-slr-27``);
clips shorter than T are zero-padded at the end (trailing all-zero frames are cut off here).
Channels C = 2 (x, y only) are accepted too. With M > 1 persons, ``person`` picks one.

The label file SAM-SLR ships is a pickle of ``(sample_names, labels)``. Pickles are code: loading
one can run anything its author wrote into it, so a pickle label file is read only when the caller
opts in with ``allow_pickle=True`` (CLI: ``--allow-pickle``); otherwise the reader raises a
DataError saying so. JSON (``{"names": [...], "labels": [...]}``, ``{id: label}``) and CSV
(``id,label`` rows) label files need no opt-in.

Mirroring: SAM-SLR's extraction flipped every frame horizontally, so what its arrays call the left
hand is the signer's right hand. ``mirrored=True`` undoes that: x -> -x and left/right joints
swapped (the layout's mirror map), giving the signer's true left and right. Off by default because
other tools writing the same array format do not flip.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gspmc.data.readers._common import (
    PathT,
    check_clips,
    default_classes,
    label_indices,
    load_npy,
    make_sample,
    mirror_clips,
    read_label_table,
    repair_joints,
)
from gspmc.data.sample import ClipSet
from gspmc.errors import DataError

PICKLE_MAGIC = b"\x80"
CHUNK = 1024  # clips converted at once (bounds memory for memory-mapped arrays)


def read_label_pickle(path: PathT, allow_pickle: bool = False) -> list[tuple[str, str]]:
    """(name, label) pairs from a SAM-SLR label pickle ``(names, labels)``, only with the opt-in."""
    p = Path(path)
    if not allow_pickle:
        raise DataError(
            p,
            "is a pickle; pickles are code (loading one runs whatever its author put in it), so gspmc "
            "loads one only if you opt in: pass allow_pickle=True (CLI: --allow-pickle) when you trust "
            "where it came from, or convert it to JSON {'names': [...], 'labels': [...]} / CSV 'id,label'",
        )
    try:
        with p.open("rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - explicit opt-in above
    except (pickle.UnpicklingError, EOFError, OSError, AttributeError, ImportError, IndexError) as err:
        raise DataError(p, f"corrupt or truncated label pickle: {err}") from None
    if not (isinstance(obj, tuple | list) and len(obj) >= 2):
        raise DataError(p, f"expected a pickled (names, labels) pair, got {type(obj).__name__}")
    names, labels = list(obj[0]), list(obj[1])
    if len(names) != len(labels):
        raise DataError(p, f"{len(names)} names but {len(labels)} labels")
    return [(str(n), str(int(v)) if isinstance(v, int | np.integer) else str(v))
            for n, v in zip(names, labels, strict=True)]


def _is_pickle(p: Path) -> bool:
    if p.suffix.lower() in (".pkl", ".pickle"):
        return True
    try:
        with p.open("rb") as fh:
            return fh.read(1) == PICKLE_MAGIC
    except OSError:
        return False


def read_labels(path: PathT, allow_pickle: bool = False) -> list[tuple[str, str]]:
    """(id, label) pairs from a pickle (opt-in), JSON or CSV label file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "label file not found")
    if _is_pickle(p):
        return read_label_pickle(p, allow_pickle)
    return read_label_table(p)


def _load_data(p: Path) -> np.ndarray:
    data = load_npy(p, mmap=True)
    if data.ndim != 5 or data.shape[1] not in (2, 3):
        raise DataError(p, f"expected shape (N, C=2|3, T, V, M), got {data.shape}")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(p, f"expected floating point data, got {data.dtype}")
    return data


def read_sam_slr(
    data_path: PathT,
    label_path: PathT,
    classes: Sequence[str] | None = None,
    allow_pickle: bool = False,
    mirrored: bool = False,
    layout: str = "sam-slr-27",
    person: int = 0,
    score_threshold: float = 0.0,
    name: str | None = None,
) -> ClipSet:
    """Read SAM-SLR training arrays and their label file into a ClipSet.

    Args:
        data_path: the (N, C, T, V, M) ``.npy`` (read memory-mapped, converted in chunks).
        label_path: pickle (needs ``allow_pickle``), JSON or CSV label file with N entries, in
            the order of the array.
        classes: class names; labels are indices into it (default: "0".."K-1").
        allow_pickle: the explicit opt-in to unpickle the label file (see the module docstring).
        mirrored: undo SAM-SLR's horizontal flip (x -> -x, left/right swapped).
        layout: the layout of the V points (default SAM-SLR's 27).
        person: which of the M persons to read.
        score_threshold: with C = 3, a point is observed when its score is > this; with C = 2,
            when it is not exactly (0, 0).

    Raises:
        DataError: naming the file at fault, on corrupt/truncated arrays, wrong shapes, a label
            count that differs from N, labels outside the class list, a pickle without the
            opt-in, or a clip that is all padding (no frame).
    """
    from gspmc.pose.layouts import get_layout

    dp, lp = Path(data_path), Path(label_path)
    data = _load_data(dp)
    n, c, t, v, m = data.shape
    num_joints = get_layout(layout).num_joints
    if v != num_joints:
        raise DataError(dp, f"has {v} points per frame but layout {layout!r} has {num_joints}")
    if not 0 <= person < m:
        raise DataError(dp, f"has {m} person(s); person={person} does not exist")
    pairs = read_labels(lp, allow_pickle)
    if len(pairs) != n:
        raise DataError(lp, f"has {len(pairs)} labels for {n} clips in {dp.name}")
    ids = [k for k, _ in pairs]
    if len(set(ids)) != n:
        raise DataError(lp, "sample names are not unique")
    class_list = list(classes) if classes is not None else default_classes(v for _, v in pairs)
    labels = label_indices(lp, [v for _, v in pairs], class_list, ids)
    samples = []
    for start in range(0, n, CHUNK):
        block = np.asarray(data[start : start + CHUNK, :, :, :, person], dtype=np.float32)  # (B, C, T, V)
        block = block.transpose(0, 2, 3, 1)  # (B, T, V, C)
        coords = block[..., :2]  # (B, T, V, 2)
        if c == 3:
            score = np.nan_to_num(block[..., 2], nan=0.0, posinf=0.0, neginf=0.0)  # (B, T, V)
            mask = score > score_threshold
        else:
            score = None
            mask = np.any(coords != 0, axis=-1)
        raw_present = np.any(block != 0, axis=(2, 3))  # (B, T): frame holds anything (incl. NaN)
        coords, mask, nonfinite = repair_joints(coords, mask)
        if mirrored:
            coords, mask, score = mirror_clips(coords, mask, score, layout)
        block_ids = ids[start : start + CHUNK]
        lengths = np.where(raw_present.any(1), t - np.argmax(raw_present[:, ::-1], axis=1), 0)  # (B,)
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise DataError(dp, f"clip {block_ids[int(empty[0])]!r} (index {start + int(empty[0])}) has no "
                                "frames: all zeros (padding)")
        valid = np.arange(t)[None, :] < lengths[:, None]  # (B, T)
        check_clips(dp, block_ids, mask & valid[..., None], nonfinite & valid[..., None])
        for b, length in enumerate(lengths):
            length = int(length)
            samples.append(make_sample(
                dp, coords=coords[b, :length], mask=mask[b, :length], layout=layout,
                label=int(labels[start + b]), id=block_ids[b], signer=None,
                score=None if score is None else np.where(mask[b, :length], score[b, :length], 0.0),
            ))
    return ClipSet(samples=samples, classes=class_list, layout=layout, name=name or dp.stem)
