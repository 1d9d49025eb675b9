"""What every reader shares: the repair policy for bad joints, label parsing, label tables.

Repair policy (one place, used by every reader):

- A joint whose coordinates are NaN or inf in a frame is masked in that frame (mask False,
  coordinates set to 0). Nothing else about the clip changes.
- A joint that is masked has coordinates 0 (so masked points are never garbage).
- A clip with no frame is an error naming the file and the clip id (`DataError`).
- A clip of a single frame is kept: it is a valid, if poor, clip (make_input repeats it over the
  window; its motion streams are zero).
- A clip that the repair leaves with no observed joint (it had NaN/inf and nothing else) is an
  error naming the file and the clip id: it is corrupt, not a recording.
- A clip that is finite but in which nothing was detected (all joints masked, e.g. MP_Data's
  all-zero vectors of the idle class "-" in traduttore: 60 such clips) is kept: "nobody/nothing in
  view" is data, and dropping it would change the documented split sizes.
- A label that is not in the class list is an error naming the file and the clip id.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from gspmc.data.sample import Sample
from gspmc.errors import DataError
from gspmc.pose.repair import repair_joints  # noqa: F401  (the readers' repair policy, re-exported)

PathT = str | PathLike[str]


def check_clips(path: PathT | None, ids: Sequence[str], mask: np.ndarray, nonfinite: np.ndarray) -> None:
    """Raise DataError for the first clip left empty by the repair (see the module docstring).

    ``mask`` and ``nonfinite`` are (N, T, V) (already cut to each clip's frames, or padded with
    False) for N clips named by ``ids``.
    """
    emptied = nonfinite.any(axis=(1, 2)) & ~mask.any(axis=(1, 2))  # (N,)
    if emptied.any():
        k = int(np.flatnonzero(emptied)[0])
        raise DataError(path, f"clip {ids[k]!r}: every joint is NaN/inf or missing; nothing is left after "
                              f"masking the non-finite joints ({int(emptied.sum())} such clip(s))")


def make_sample(path: PathT | None, **fields: object) -> Sample:
    """Build a Sample, turning a validation failure into a DataError that names ``path``."""
    try:
        return Sample(**fields)  # type: ignore[arg-type]
    except DataError as err:
        raise DataError(path, err.problem) from None


def label_indices(
    path: PathT | None, values: Sequence[object], classes: Sequence[str], ids: Sequence[str]
) -> np.ndarray:
    """Map label values (class names or integer indices, as found in files) to class indices.

    An integer-looking value is an index into ``classes``; any other value is a class name. A
    value outside the class list raises DataError naming ``path`` and the first offending clip.
    """
    lookup = {name: i for i, name in enumerate(classes)}
    out = np.empty(len(values), dtype=np.int64)
    for k, value in enumerate(values):
        text = str(value).strip()
        if text in lookup:
            out[k] = lookup[text]
            continue
        try:
            index = int(text)
        except ValueError:
            raise DataError(path, f"clip {ids[k]!r}: label {text!r} is not in the class list") from None
        if not 0 <= index < len(classes):
            raise DataError(
                path, f"clip {ids[k]!r}: label {index} is outside the class list (0..{len(classes) - 1})"
            )
        out[k] = index
    return out


def default_classes(values: Iterable[object]) -> list[str]:
    """The class list when none is given: 0..max as strings if every label is an integer
    (so label i keeps meaning class i), else the sorted distinct names."""
    texts = [str(v).strip() for v in values]
    try:
        ints = [int(t) for t in texts]
    except ValueError:
        return sorted(set(texts))
    if ints and min(ints) < 0:
        raise DataError(None, f"negative class index {min(ints)} in the labels")
    return [str(i) for i in range(max(ints) + 1)] if ints else []


def read_class_names(path: PathT) -> list[str]:
    """A dataset's class names in label order, from the class list files datasets ship:

    - ``.txt``: one name a line (SLR500's ``dictionary`` / ``gloss_label``);
    - ``.tsv``: ``id<TAB>name`` (WLASL's class list; the name column);
    - ``.csv``: AUTSL's ``ClassId,TR,EN`` (the Turkish name, the key of the AUTSL store), or a header
      with a ``gloss`` or ``name`` column;
    - ``.json``: an object name -> label index (GISLR's ``sign_to_prediction_index_map.json``).

    Raises:
        DataError: the file is missing, unreadable, empty, of another layout, or names a class twice.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(p, f"cannot read the class list: {err}") from None
    suffix = p.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(p, f"not valid JSON: {err}") from None
        if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
            raise DataError(p, "expected an object mapping each class name to its label index")
        names = [n for n, _ in sorted(data.items(), key=lambda kv: kv[1])]
    elif suffix in (".tsv", ".csv"):
        rows = [r for r in csv.reader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ",") if any(r)]
        if not rows:
            raise DataError(p, "the class list is empty")
        head = [h.strip().lower() for h in rows[0]]
        if head[:3] == ["classid", "tr", "en"]:
            names = [r[1].strip() for r in rows[1:]]
        elif "gloss" in head or "name" in head:
            col = head.index("gloss") if "gloss" in head else head.index("name")
            names = [r[col].strip() for r in rows[1:]]
        elif all(len(r) >= 2 for r in rows) and all(r[0].strip().isdigit() for r in rows):
            names = [r[1].strip() for r in rows]
        else:
            raise DataError(p, "expected id<TAB>name rows, AUTSL's ClassId,TR,EN or a header with a gloss/name column")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataError(p, "the class list is empty")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(p, f"the class list names {dup[:5]} more than once")
    return names


def read_label_table(path: PathT) -> list[tuple[str, str]]:
    """Read (clip id, label) pairs from a CSV (``id,label`` rows; an optional header whose first
    cell is ``id``/``name``/``sample``/``video`` is skipped) or a JSON file (an object id -> label, or a
    list of ``{"id": ..., "label": ...}`` objects, or ``{"names": [...], "labels": [...]}``).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "label file not found")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(p, f"cannot read label file: {err}") from None
    if p.suffix.lower() == ".json":
        return _label_pairs_from_json(p, text)
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if rows and rows[0][0].strip().lower() in ("id", "name", "names", "sample", "video", "file"):
        rows = rows[1:]
    pairs = []
    for line, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise DataError(p, f"row {line} has {len(row)} column(s), expected 'id,label': {row!r}")
        pairs.append((row[0].strip(), row[1].strip()))
    if not pairs:
        raise DataError(p, "label file has no rows")
    return pairs


def _label_pairs_from_json(p: Path, text: str) -> list[tuple[str, str]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(p, f"invalid JSON: {err}") from None
    if isinstance(obj, dict) and "names" in obj and "labels" in obj:
        names, labels = obj["names"], obj["labels"]
        if not isinstance(names, list) or not isinstance(labels, list) or len(names) != len(labels):
            raise DataError(p, "'names' and 'labels' must be lists of the same length")
        pairs = [(str(n), str(v)) for n, v in zip(names, labels, strict=True)]
    elif isinstance(obj, dict):
        pairs = [(str(k), str(v)) for k, v in obj.items()]
    elif isinstance(obj, list) and all(isinstance(r, dict) and "id" in r and "label" in r for r in obj):
        pairs = [(str(r["id"]), str(r["label"])) for r in obj]
    else:
        raise DataError(p, "expected {id: label}, [{'id', 'label'}, ...] or {'names': [...], 'labels': [...]}")
    if not pairs:
        raise DataError(p, "label file has no entries")
    return pairs


def read_class_list(path: PathT) -> list[str]:
    """A class list file: one class per line (``.txt``), or ``id<TAB>name`` / ``id,name`` rows
    (``.tsv`` / ``.csv``, header skipped when its first cell is not an integer), or a JSON list."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(p, f"cannot read class list: {err}") from None
    if p.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(p, f"invalid JSON: {err}") from None
        if not isinstance(obj, list):
            raise DataError(p, "a JSON class list must be a list of names")
        return [str(c) for c in obj]
    if p.suffix.lower() in (".csv", ".tsv"):
        delim = "\t" if p.suffix.lower() == ".tsv" else ","
        rows = [r for r in csv.reader(text.splitlines(), delimiter=delim) if r]
        if rows and not rows[0][0].strip().isdigit():
            rows = rows[1:]
        if any(len(r) < 2 for r in rows):
            raise DataError(p, "expected 'id<sep>name' rows")
        return [r[1].strip() for r in rows]
    return [line.strip() for line in text.splitlines() if line.strip()]


def mirror_clips(
    coords: np.ndarray, mask: np.ndarray, score: np.ndarray | None, layout: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Undo a horizontal flip of the source frames: x -> -x and left/right joints swapped.

    Works on (..., V, D) coords with (..., V) mask and score. Masked joints stay 0. The swap is the
    layout's mirror map (``Layout.mirror_indices()``), so after this "left" is the signer's left.
    """
    from gspmc.pose.layouts import get_layout
    from gspmc.pose.transforms import mirror

    lay = get_layout(layout)
    coords, mask = mirror(coords, mask, lay)
    coords = np.where(mask[..., None], coords, np.float32(0)).astype(np.float32)  # no -0.0 at masked joints
    return coords, mask, None if score is None else score[..., lay.mirror_indices()]


def load_npy(path: PathT, mmap: bool = False) -> np.ndarray:
    """``np.load`` of a single ``.npy`` array with pickles refused; every failure is a DataError
    naming the file (missing, corrupt, truncated, pickled objects, an npz instead of an npy)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "file not found")
    try:
        arr = np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise DataError(p, "holds pickled objects, which are refused (pickles are code)") from None
        raise DataError(p, f"corrupt or truncated .npy file: {err}") from None
    except (OSError, EOFError) as err:
        raise DataError(p, f"corrupt or truncated .npy file: {err}") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise DataError(p, "expected a single .npy array, got an npz archive")
    return arr
