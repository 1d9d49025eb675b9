"""Reader for folders of per-video COCO-WholeBody keypoints, and the AUTSL / SLR500 benchmark layouts.

Each video is one ``.npy`` of shape (T, 133, 3): x, y (pixels) and the detector score of the 133
COCO-WholeBody points (how SAM-SLR releases its AUTSL, SLR500 and WLASL keypoints). A point whose
score is below ``score_threshold`` is masked. Labels come from a CSV (``id,label`` rows, as the
AUTSL challenge ships them: ``signer0_sample1,0``) or JSON; a clip id matches the file
``<id><suffix>.npy`` for the first of ``suffixes`` that exists, searched recursively (so
``signer0_sample1_color.npy`` and SAM-SLR's ``signer0_sample1_color.mp4.npy`` both match
``signer0_sample1``). ``mirrored=True`` undoes a horizontal flip of the source frames (SAM-SLR's
extraction flipped them): x -> -x and left/right swapped.

Benchmarks:

- AUTSL (`read_autsl`): the challenge's train / val / test label CSVs; the ClipSet records each
  clip's list in ``meta["split"]`` (protocol ``autsl``). Signers come from the ``signer<k>_`` prefix.
- SLR500 (`read_slr500`): one clip per (signer, sign, repetition). The signer is not in a label
  file, so it is derived from the file name with a regular expression whose first group is the
  signer number. Default ``P(\\d+)`` matches names such as ``P01_s1_00_0_color`` (signer 1) - our
  assumption about how the files are named; pass ``signer_pattern`` for other names. Signers are
  stored as plain numbers ("1".."50") for the protocol presets (``slr500``: 1-35 train / 36-50 test,
  GSP-MC's; ``slr500-best``: 1-36 / 37-50). Labels come from a label file, or with ``labels=None``
  from the class folder each file sits in (``000``..``499``, as the CSL-500 release is organised).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

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
from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import DataError

LAYOUT = "coco-wholebody-133"
NUM_POINTS = 133
DEFAULT_SUFFIXES = ("", "_color", "_color.mp4", ".mp4", "_color.avi", ".avi")
AUTSL_SIGNER = r"^(signer\d+)_"
SLR500_SIGNER = r"P(\d+)"


def index_npy_files(folder: PathT) -> dict[str, Path]:
    """Map every ``.npy`` under ``folder`` by its name without ``.npy`` and by its relative path
    without ``.npy`` (``a/b/name``); a name found twice maps only by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "keypoint folder not found")
    files = sorted(root.rglob("*.npy"))
    if not files:
        raise DataError(root, "no .npy keypoint files found")
    stems: dict[str, list[Path]] = {}
    for f in files:
        stems.setdefault(f.name[: -len(".npy")], []).append(f)
    index = {name: found[0] for name, found in stems.items() if len(found) == 1}
    index.update({f.relative_to(root).as_posix()[: -len(".npy")]: f for f in files})
    return index


def find_clip_file(index: dict[str, Path], clip_id: str, suffixes: Sequence[str]) -> Path | None:
    for suffix in suffixes:
        hit = index.get(f"{clip_id}{suffix}")
        if hit is not None:
            return hit
    return None


def read_wholebody_npy(
    path: PathT,
    label: int = -1,
    clip_id: str | None = None,
    signer: str | None = None,
    score_threshold: float = 0.1,
    mirrored: bool = False,
) -> Sample:
    """One (T, 133, 3) COCO-WholeBody ``.npy`` as a Sample (points scoring < threshold masked).

    Raises:
        DataError: naming the file, on a corrupt/truncated file, a wrong shape, no frames, or a
            clip that NaN/inf leaves empty.
    """
    p = Path(path)
    arr = load_npy(p)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_POINTS, 3):
        raise DataError(p, f"expected shape (T, {NUM_POINTS}, 3), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(p, f"expected numbers, got dtype {arr.dtype}")
    if arr.shape[0] == 0:
        raise DataError(p, "clip has no frames")
    arr = arr.astype(np.float32, copy=False)
    cid = clip_id or p.stem
    score = np.nan_to_num(arr[..., 2], nan=0.0, posinf=0.0, neginf=0.0)  # (T, V)
    coords, mask, nonfinite = repair_joints(arr[..., :2], score >= score_threshold)  # (T, V, 2)
    check_clips(p, [cid], mask[None], nonfinite[None])
    if mirrored:
        coords, mask, score = mirror_clips(coords, mask, score, LAYOUT)
    return make_sample(p, coords=coords, mask=mask, layout=LAYOUT, label=label, id=cid, signer=signer,
                       score=np.where(mask, score, 0.0).astype(np.float32))


def _signer_from(pattern: re.Pattern[str] | None, text: str, path: Path, numeric: bool) -> str | None:
    if pattern is None:
        return None
    match = pattern.search(text)
    if match is None:
        raise DataError(path, f"cannot derive the signer from {text!r} with pattern {pattern.pattern!r}; "
                              "pass signer_pattern to match your file names")
    value = match.group(1) if match.groups() else match.group(0)
    return str(int(value)) if numeric else value


def read_wholebody_folder(
    folder: PathT,
    labels: PathT | Sequence[tuple[str, str]],
    classes: Sequence[str] | None = None,
    score_threshold: float = 0.1,
    mirrored: bool = False,
    signer_pattern: str | None = None,
    numeric_signer: bool = False,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
    name: str | None = None,
    progress: bool = True,
    label_file: PathT | None = None,
) -> ClipSet:
    """Read the clips a label file lists from a folder of (T, 133, 3) ``.npy`` files.

    Args:
        folder: searched recursively for ``<id><suffix>.npy``.
        labels: a label file (CSV ``id,label`` or JSON) or the (id, label) pairs themselves.
        classes: class names (labels may be indices into it or names); default "0".."K-1" for
            integer labels, else the sorted names.
        signer_pattern: regular expression on the clip id whose first group is the signer
            (``numeric_signer``: stored as a plain integer string, "01" -> "1").
        label_file: the file ``labels`` pairs came from, named in errors (when pairs are given).

    Raises:
        DataError: naming the label file when a listed clip has no file or a label is outside
            the class list; naming the ``.npy`` on a bad file.
    """
    root = Path(folder)
    label_src = Path(labels) if isinstance(labels, str | Path) else label_file
    pairs = read_label_table(labels) if isinstance(labels, str | Path) else list(labels)
    ids = [k for k, _ in pairs]
    if len(set(ids)) != len(ids):
        raise DataError(label_src, "clip ids are listed more than once")
    class_list = list(classes) if classes is not None else default_classes(v for _, v in pairs)
    label_idx = label_indices(label_src, [v for _, v in pairs], class_list, ids)
    index = index_npy_files(root)
    pattern = re.compile(signer_pattern) if signer_pattern else None
    samples = []
    for (clip_id, _), label in tqdm(list(zip(pairs, label_idx, strict=True)), desc=f"reading {root.name}",
                                    unit="clip", disable=not progress):
        f = find_clip_file(index, clip_id, suffixes)
        if f is None:
            raise DataError(label_src or root, f"clip {clip_id!r}: no keypoint file "
                                               f"{clip_id}{{{','.join(suffixes)}}}.npy under {root}")
        signer = _signer_from(pattern, clip_id, label_src or f, numeric_signer)
        samples.append(read_wholebody_npy(f, int(label), clip_id, signer, score_threshold, mirrored))
    return ClipSet(samples=samples, classes=class_list, layout=LAYOUT, name=name or root.name)


def read_autsl(
    folder: PathT,
    train_csv: PathT,
    val_csv: PathT,
    test_csv: PathT,
    classes: Sequence[str] | None = None,
    score_threshold: float = 0.1,
    mirrored: bool = False,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
    progress: bool = True,
) -> ClipSet:
    """AUTSL: the clips of the challenge's three label lists, ``meta["split"]`` = train/val/test.

    Classes default to "0".."225" (AUTSL's class ids; pass the names from
    ``vocab/autsl226_TR_EN.csv`` to get words). Signers are the ``signer<k>`` prefix of each id.
    """
    parts = []
    for split, csv_path in (("train", train_csv), ("val", val_csv), ("test", test_csv)):
        pairs = read_label_table(csv_path)
        parts.append((split, Path(csv_path), pairs))
    all_values = [v for _, _, pairs in parts for _, v in pairs]
    class_list = list(classes) if classes is not None else default_classes(all_values)
    sets, splits = [], []
    for split, csv_path, pairs in parts:
        clips = read_wholebody_folder(folder, pairs, class_list, score_threshold, mirrored, AUTSL_SIGNER,
                                      False, suffixes, name=split, progress=progress, label_file=csv_path)
        sets.append(clips)
        splits += [split] * len(clips)
    samples = [s for c in sets for s in c.samples]
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(Path(folder), f"clip {dup!r} is listed in more than one of train/val/test")
    return ClipSet(samples=samples, classes=class_list, layout=LAYOUT, name="autsl",
                   meta={"split": np.asarray(splits)})


def read_slr500(
    folder: PathT,
    labels: PathT | None = None,
    classes: Sequence[str] | None = None,
    signer_pattern: str = SLR500_SIGNER,
    score_threshold: float = 0.1,
    mirrored: bool = False,
    suffixes: Sequence[str] = DEFAULT_SUFFIXES,
    progress: bool = True,
) -> ClipSet:
    """SLR500 (CSL-500): every clip, signer from the file name (see the module docstring).

    With ``labels=None`` every ``.npy`` under ``folder`` is read and its label is the integer
    name of the folder it sits in; otherwise the label file lists the clips.
    """
    root = Path(folder)
    if labels is not None:
        return read_wholebody_folder(root, labels, classes, score_threshold, mirrored, signer_pattern,
                                     True, suffixes, name="slr500", progress=progress)
    files = sorted(root.rglob("*.npy"))
    if not files:
        raise DataError(root, "no .npy keypoint files found")
    pairs = []
    for f in files:
        rel = f.relative_to(root).as_posix()[: -len(".npy")]
        try:
            int(f.parent.name)
        except ValueError:
            raise DataError(f, "labels=None needs each file inside a folder named by its class number "
                               "(e.g. 000/P01_s1_00_0_color.npy); give a label file instead") from None
        pairs.append((rel, str(int(f.parent.name))))
    return read_wholebody_folder(root, pairs, classes, score_threshold, mirrored, signer_pattern,
                                 True, ("",), name="slr500", progress=progress)
