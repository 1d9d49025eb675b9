"""Reader for Kaggle's asl-signs corpus (Google's Isolated Sign Language Recognition, 2023: "GISLR"),
layout ``mediapipe-holistic-543``.

The corpus is a folder holding ``train.csv`` (``path, participant_id, sequence_id, sign``; ``path`` is
relative to the folder, e.g. ``train_landmark_files/26734/1000035562.parquet``), one parquet file per
clip with the columns ``frame, row_id, type, landmark_index, x, y, z`` (543 rows per frame:
``type`` face 468, left_hand 21, pose 33, right_hand 21; coordinates normalised to the image, ``z``
relative), and often ``sign_to_prediction_index_map.json`` (sign -> class index).

What this reader makes of it:

- Every row goes to the layout joint named by its ``(type, landmark_index)``, through the layout
  registry (``pose`` -> the ``body`` part, ``face`` -> ``face``, ``left_hand`` / ``right_hand``), never by
  its position in the file: sources order the rows differently (Kaggle face, left_hand, pose,
  right_hand; others pose first). Frames are the distinct ``frame`` values, in increasing order.
- A NaN (or null) coordinate is a part MediaPipe did not detect: that joint is masked in that frame
  (mask False, coordinates 0), never a zero taken as observed. A clip in which nothing at all was
  detected is kept (it becomes an all-zero input), as the repair policy keeps such clips elsewhere.
- ``participant_id`` is the clip's signer (the group of participant-grouped protocols such as
  ``group-kfold``); ``sequence_id`` is the clip id.
- Classes: the order of ``sign_to_prediction_index_map.json`` (``sign_map=``, else the file of that
  name beside ``train.csv`` when there is one); without a map, the sorted signs of ``train.csv``.

Reading 94k small files is slow, so it happens once: the files are read in parallel (``workers``
processes, a tqdm progress bar) into a pack under ``cache_dir()/gislr/<folder>-<hash of its path>/``
(never beside the data, which may be read-only). The pack is a set of chunks of ``chunk_size`` clips
(train.csv order), each an npz written atomically (`gspmc.io`) and named by a digest of its rows and
of its files' sizes and modification times, plus ``pack.json``, written last, listing them. A second
read stats the files, finds every chunk and reads no parquet file; an interrupted read keeps the
chunks it finished and reads only the missing ones; a changed file re-reads only its chunk. The
chunks store what the files hold (coordinates with NaN where nothing was detected), not labels, so
another class map reuses them.

Bad input (each a `DataError` naming the file and the problem): ``train.csv`` missing or without its
columns, a duplicated ``sequence_id``, a sign not in the class map, a parquet file that is missing,
unreadable, has other columns, has a frame with other than 543 rows, an unknown ``type``, a
``landmark_index`` out of range or a landmark twice in a frame, or no rows (an empty clip). With
``skip_bad=True`` a bad clip is skipped instead: counted, listed in ``skipped.csv`` in the pack
folder, and reported on stderr. A run stopped by an error keeps the chunks finished before it.
Needs the optional ``pyarrow`` package (``pip install 'gspmc[gislr]'``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gspmc.data.readers._common import PathT, make_sample, repair_joints
from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError, DataError, GspmcError
from gspmc.io import atomic_write, remove_stale_temps, write_json, write_text
from gspmc.paths import cache_dir

LAYOUT = "mediapipe-holistic-543"
CSV_NAME = "train.csv"
LANDMARK_FOLDER = "train_landmark_files"
MAP_NAME = "sign_to_prediction_index_map.json"
CSV_COLUMNS = ("path", "participant_id", "sequence_id", "sign")
COLUMNS = ("frame", "row_id", "type", "landmark_index", "x", "y", "z")  # row_id is not needed
# GISLR row type -> (part of the layout, number of landmarks); the part's joints are in MediaPipe's order
TYPES = {"face": ("face", 468), "left_hand": ("left_hand", 21), "pose": ("body", 33), "right_hand": ("right_hand", 21)}
ROWS_PER_FRAME = sum(n for _, n in TYPES.values())  # 543
PACK_VERSION = 1
POOL_MIN_FILES = 256  # fewer files to read: in this process (starting the worker processes costs ~1 s)


def _pyarrow():  # noqa: ANN202 - a module
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the environment
        raise GspmcError("reading GISLR parquet files needs the pyarrow package: pip install 'gspmc[gislr]'") from None
    return pa, pc, pq


_JOINTS: np.ndarray | None = None


def _joint_lookup() -> np.ndarray:
    """(543,) layout index of each (type, landmark_index), types in ``TYPES`` order, by joint name."""
    global _JOINTS
    if _JOINTS is None:
        from gspmc.pose.layouts import get_layout

        layout = get_layout(LAYOUT)
        parts = [layout.parts[part] for part, _ in TYPES.values()]
        for (kind, (part, n)), names in zip(TYPES.items(), parts, strict=True):
            if len(names) != n:  # pragma: no cover - a registry change
                raise GspmcError(f"layout {LAYOUT}: part {part} has {len(names)} joints, GISLR's {kind} has {n}")
        _JOINTS = np.array([layout.index(name) for names in parts for name in names], dtype=np.int64)
    return _JOINTS


def read_clip_file(path: PathT, dims: int = 3) -> np.ndarray:
    """One GISLR parquet file as (T, 543, dims) float32 in the ``mediapipe-holistic-543`` layout, NaN
    where nothing was detected (`read_gislr` turns that into the mask).

    Raises:
        DataError: naming the file: missing, unreadable, other columns, no rows, a frame without
            exactly 543 rows, an unknown type, a landmark index out of range or repeated in a frame.
    """
    pa, pc, pq = _pyarrow()
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "parquet file not found")
    wanted = [c for c in COLUMNS if c != "row_id"]
    try:
        pf = pq.ParquetFile(p)
        names = list(pf.schema_arrow.names)
        missing = [c for c in wanted if c not in names]
        if missing:
            raise DataError(p, f"not a GISLR landmark file: it has the columns {names}, expected "
                               f"{', '.join(COLUMNS)} (missing {', '.join(missing)})")
        table = pf.read(columns=wanted[: 3 + dims])
    except (OSError, pa.ArrowException) as err:
        raise DataError(p, f"corrupt or not a parquet file: {err}") from None
    if table.num_rows == 0:
        raise DataError(p, "empty clip: the file has no rows")
    try:
        frame = table.column("frame").to_numpy()
        types = table.column("type").cast(pa.string())
        code = pc.fill_null(pc.index_in(types, value_set=pa.array(list(TYPES))), -1).to_numpy()
        index = table.column("landmark_index").to_numpy()
        xyz = np.stack([table.column(c).cast(pa.float64()).to_numpy() for c in "xyz"[:dims]], axis=-1)  # (R, dims)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise DataError(p, f"unexpected column types ({table.schema}): {err}") from None
    if not (np.issubdtype(frame.dtype, np.integer) and np.issubdtype(index.dtype, np.integer)):
        raise DataError(p, f"frame and landmark_index must be integers (no missing values), got "
                           f"{frame.dtype} and {index.dtype}")
    if (code < 0).any():
        r = int(np.flatnonzero(code < 0)[0])
        raise DataError(p, f"row {r}: unknown type {types[r].as_py()!r} (expected {', '.join(TYPES)})")
    frames, frame_of_row = _frame_numbers(frame)  # (T,), (R,)
    per_frame = np.bincount(frame_of_row, minlength=len(frames))  # (T,)
    wrong = np.flatnonzero(per_frame != ROWS_PER_FRAME)
    if wrong.size:
        f = int(wrong[0])
        counts = ", ".join(f"{k} {n}" for k, (_, n) in TYPES.items())
        raise DataError(p, f"frame {frames[f]} has {per_frame[f]} rows, expected {ROWS_PER_FRAME} ({counts}); "
                           f"{wrong.size} of {len(frames)} frames differ")
    sizes = np.array([n for _, n in TYPES.values()])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    outside = (index < 0) | (index >= sizes[code])
    if outside.any():
        r = int(np.flatnonzero(outside)[0])
        raise DataError(p, f"row {r}: landmark_index {index[r]} is outside 0..{sizes[code[r]] - 1} for type "
                           f"{list(TYPES)[code[r]]}")
    flat = frame_of_row * ROWS_PER_FRAME + _joint_lookup()[starts[code] + index]  # (R,) into (T * 543)
    seen = np.bincount(flat, minlength=len(frames) * ROWS_PER_FRAME)
    if (seen > 1).any():
        f, j = divmod(int(np.flatnonzero(seen > 1)[0]), ROWS_PER_FRAME)
        raise DataError(p, f"frame {frames[f]}: landmark {j} of the 543 (type, landmark_index) appears "
                           f"{seen[f * ROWS_PER_FRAME + j]} times")
    coords = np.empty((len(frames) * ROWS_PER_FRAME, dims), dtype=np.float32)  # every slot filled: 543 rows/frame
    coords[flat] = xyz
    return coords.reshape(len(frames), ROWS_PER_FRAME, dims)  # (T, 543, dims)


def _frame_numbers(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct frame numbers, sorted; each row's position among them): ``np.unique(frame,
    return_inverse=True)`` in O(rows) when the numbers are dense, as GISLR's are."""
    lo, hi = int(frame.min()), int(frame.max())
    if hi - lo >= 4 * len(frame):
        return np.unique(frame, return_inverse=True)
    present = np.bincount(frame - lo, minlength=hi - lo + 1) > 0  # (span,)
    return np.flatnonzero(present) + lo, (np.cumsum(present) - 1)[frame - lo]


def _read_or_problem(path: str, dims: int) -> np.ndarray | str:
    """`read_clip_file` for a worker process: the problem as text instead of an exception."""
    try:
        return read_clip_file(path, dims)
    except DataError as err:
        return err.problem


@dataclass(frozen=True)
class Row:
    """One row of train.csv."""

    line: int  # 2 = the first row after the header
    path: str  # as written, relative to the corpus folder
    participant: str
    sequence: str
    sign: str


def read_train_csv(csv_path: PathT) -> list[Row]:
    """The rows of ``train.csv``; a DataError naming it when it is missing, lacks a column, has an
    empty cell, no rows, or a ``sequence_id`` twice."""
    p = Path(csv_path)
    if not p.is_file():
        raise DataError(p, "train.csv not found")
    try:
        with p.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            missing = [c for c in CSV_COLUMNS if c not in header]
            if missing:
                raise DataError(p, f"columns {header}, expected {', '.join(CSV_COLUMNS)} (missing {', '.join(missing)})")
            rows = []
            for line, rec in enumerate(reader, start=2):
                values = [(rec.get(c) or "").strip() for c in CSV_COLUMNS]
                if not all(values):
                    raise DataError(p, f"line {line}: empty {CSV_COLUMNS[values.index('')]} ({rec})")
                rows.append(Row(line, *values))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(p, f"cannot read train.csv: {err}") from None
    if not rows:
        raise DataError(p, "train.csv has no rows")
    seen: dict[str, int] = {}
    for row in rows:
        if row.sequence in seen:
            raise DataError(p, f"line {row.line}: sequence_id {row.sequence} is also on line {seen[row.sequence]}")
        seen[row.sequence] = row.line
    return rows


def read_sign_map(path: PathT) -> list[str]:
    """Classes in the order of a ``sign_to_prediction_index_map.json`` (sign -> index 0..K-1, each once)."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(p, "sign map not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(p, f"cannot read the sign map: {err}") from None
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, int) for v in obj.values()):
        raise DataError(p, "a sign map is a JSON object sign -> class index (an integer)")
    if sorted(obj.values()) != list(range(len(obj))):
        raise DataError(p, f"the class indices must be 0..{len(obj) - 1}, each once")
    return [sign for sign, _ in sorted(obj.items(), key=lambda kv: kv[1])]


def _locate(source: PathT) -> tuple[Path, Path]:
    """(corpus folder, train.csv) from the folder or the train.csv path."""
    p = Path(source).expanduser()
    if p.is_file():
        return p.parent, p
    if not p.is_dir():
        raise DataError(p, "no such file or folder")
    return p, p / CSV_NAME


def is_gislr_folder(path: PathT) -> bool:
    """A folder holding ``train.csv`` and ``train_landmark_files/`` (what ``auto`` reads as GISLR)."""
    p = Path(path)
    return (p / CSV_NAME).is_file() and (p / LANDMARK_FOLDER).is_dir()


def pack_folder(root: PathT) -> Path:
    """The default pack folder of a corpus: one per folder path, under ``cache_dir()/gislr``."""
    r = Path(root).resolve()
    return cache_dir() / "gislr" / f"{r.name}-{hashlib.sha256(str(r).encode('utf-8')).hexdigest()[:12]}"


def _chunk_digest(root: Path, rows: Sequence[Row], dims: int) -> str:
    """What a chunk depends on: its rows, and each file's size and modification time (0, 0: missing)."""
    h = hashlib.sha256(f"gislr-pack {PACK_VERSION} dims {dims}\n".encode())
    for row in rows:
        try:
            st = (root / row.path).stat()
            stat = (st.st_size, st.st_mtime_ns)
        except OSError:
            stat = (0, 0)
        h.update(f"{row.path}\t{row.participant}\t{row.sequence}\t{stat[0]}\t{stat[1]}\n".encode())
    return h.hexdigest()[:20]


def _chunks(rows: Sequence[Row], size: int) -> Iterator[tuple[int, Sequence[Row]]]:
    for i, start in enumerate(range(0, len(rows), size)):
        yield i, rows[start:start + size]


def _map_reads(paths: list[str], dims: int, pool: ProcessPoolExecutor | None) -> Iterator[np.ndarray | str]:
    if pool is None:
        return (_read_or_problem(path, dims) for path in paths)
    return pool.map(_read_or_problem, paths, [dims] * len(paths), chunksize=max(1, len(paths) // 64))


def _chunk_arrays(rows: Sequence[Row], results: Sequence[np.ndarray | str], digest: str,
                  dims: int) -> dict[str, np.ndarray]:
    """What a chunk file holds: the clips read (train.csv line, frame count, coordinates with NaN) and
    the clips skipped (line, problem)."""
    ok = [(row, r) for row, r in zip(rows, results, strict=True) if not isinstance(r, str)]
    bad = [(row, r) for row, r in zip(rows, results, strict=True) if isinstance(r, str)]
    coords = (np.concatenate([r for _, r in ok]) if ok
              else np.zeros((0, ROWS_PER_FRAME, dims), np.float32))  # (sum T, 543, dims)
    return {
        "version": np.array(PACK_VERSION), "digest": np.array(digest),
        "line": np.array([row.line for row, _ in ok], dtype=np.int64),
        "lengths": np.array([len(r) for _, r in ok], dtype=np.int64),
        "coords": coords,
        "skipped_line": np.array([row.line for row, _ in bad], dtype=np.int64),
        "skipped_problem": np.array([p for _, p in bad], dtype=str).reshape(-1),
    }


def _load_chunk(path: Path, digest: str) -> dict[str, np.ndarray] | None:
    """A finished chunk's arrays, or None when it is unreadable or not of this digest (re-read it)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if int(arrays["version"]) != PACK_VERSION or str(arrays["digest"]) != digest:
            return None
        if int(arrays["lengths"].sum()) != len(arrays["coords"]):
            return None
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return arrays


def _report_skips(skipped: list[tuple[Row, str]], root: Path, total: int, folder: Path) -> None:
    lines = ["line,path,problem"] + [f"{row.line},{row.path},\"{p.replace(chr(34), chr(39))}\"" for row, p in skipped]
    write_text(folder / "skipped.csv", "\n".join(lines) + "\n")
    first_row, first = skipped[0]
    print(f"gislr: skipped {len(skipped)} of {total} clips (skip_bad): {root / first_row.path}: {first}"
          + (f"; all listed in {folder / 'skipped.csv'}" if len(skipped) > 1 else ""), file=sys.stderr)


def read_gislr(
    source: PathT,
    sign_map: PathT | None = None,
    skip_bad: bool = False,
    workers: int | None = None,
    chunk_size: int = 2000,
    dims: int = 3,
    cache: PathT | None = None,
    name: str | None = None,
    progress: bool = True,
) -> ClipSet:
    """Read a GISLR corpus (the folder, or its ``train.csv``); see the module docstring.

    Args:
        sign_map: ``sign_to_prediction_index_map.json`` giving the class order (default: that file
            beside train.csv if present, else the sorted signs of train.csv).
        skip_bad: skip (count, list, report) bad clips instead of stopping at the first.
        workers: processes reading parquet files (default: the CPUs this process may use, at most
            8); 1, or fewer than ``POOL_MIN_FILES`` files left to read, reads in this process.
        chunk_size: clips per pack chunk (what an interrupted read loses at most).
        dims: 3 (x, y, z) or 2 (x, y: a third less memory; the models use x and y).
        cache: the pack folder (default `pack_folder`: under ``cache_dir()/gislr``).

    Raises:
        DataError: naming the file and the problem (module docstring).
    """
    if dims not in (2, 3):
        raise ConfigError(f"gislr: dims must be 2 or 3, got {dims}")
    if chunk_size < 1:
        raise ConfigError(f"gislr: chunk_size must be >= 1, got {chunk_size}")
    root, csv_path = _locate(source)
    rows = read_train_csv(csv_path)
    map_path = Path(sign_map) if sign_map is not None else csv_path.parent / MAP_NAME
    if sign_map is not None or map_path.is_file():
        classes = read_sign_map(map_path)
    else:
        classes = sorted({row.sign for row in rows})
    label_of = {c: i for i, c in enumerate(classes)}
    skipped: list[tuple[Row, str]] = []
    unknown = [row for row in rows if row.sign not in label_of]
    if unknown and not skip_bad:
        row = unknown[0]
        raise DataError(csv_path, f"line {row.line} ({row.path}): sign {row.sign!r} is not in the class map "
                                  f"{map_path} ({len(classes)} signs); {len(unknown)} row(s) have unknown signs "
                                  "(skip_bad=True skips them)")
    skipped += [(row, f"sign {row.sign!r} is not in the class map") for row in unknown]

    folder = Path(cache) if cache is not None else pack_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    plan = []  # (chunk rows, chunk file, digest)
    for i, chunk in _chunks(rows, chunk_size):
        digest = _chunk_digest(root, chunk, dims)
        plan.append((chunk, folder / f"chunk-{i:05d}-{digest}.npz", digest))
    loaded: dict[int, dict[str, np.ndarray]] = {}
    for i, (_, file, digest) in enumerate(plan):
        if file.is_file() and (arrays := _load_chunk(file, digest)) is not None:
            loaded[i] = arrays
    todo = [i for i in range(len(plan)) if i not in loaded]
    if todo:
        workers = workers if workers is not None else min(8, len(os.sched_getaffinity(0)))
        n_todo = sum(len(plan[i][0]) for i in todo)
        pool = (ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
                if workers > 1 and n_todo >= POOL_MIN_FILES else None)
        bar = tqdm(total=len(rows), initial=len(rows) - n_todo, desc=f"reading {root.name}", unit="clip",
                   disable=not progress)
        try:
            for i in todo:
                chunk, file, digest = plan[i]
                results = []
                for row, result in zip(chunk, _map_reads([str(root / r.path) for r in chunk], dims, pool),
                                       strict=True):
                    if isinstance(result, str) and not skip_bad:
                        raise DataError(root / row.path, f"{result} (train.csv line {row.line}; the {len(loaded)} "
                                                         f"finished chunk(s) are kept in {folder})")
                    results.append(result)
                    bar.update(1)
                for old in folder.glob(f"chunk-{i:05d}-*.npz"):
                    old.unlink()  # an earlier version of this chunk (its files changed)
                arrays = loaded[i] = _chunk_arrays(chunk, results, digest, dims)
                atomic_write(file, lambda f, a=arrays: np.savez(f, **a))  # uncompressed: zlib costs more than reading
        finally:
            bar.close()
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    names = {p.name for _, p, _ in plan}
    for stale in folder.glob("chunk-*.npz"):
        if stale.name not in names:
            stale.unlink()
    write_json(folder / "pack.json", {
        "format": "gspmc-gislr-pack", "version": PACK_VERSION, "source": str(root.resolve()),
        "train_csv": str(csv_path.resolve()), "dims": dims, "chunk_size": chunk_size, "clips": len(rows),
        "chunks": [p.name for _, p, _ in plan],
    })

    by_line = {row.line: row for row in rows}
    unknown_lines = {row.line for row in unknown}
    samples = []
    for i in range(len(plan)):
        arrays = loaded.pop(i)  # freed chunk by chunk: the samples are copies
        skipped += [(by_line[int(line)], str(problem))
                    for line, problem in zip(arrays["skipped_line"], arrays["skipped_problem"], strict=True)
                    if int(line) not in unknown_lines]
        ends = np.cumsum(arrays["lengths"])
        for line, end, length in zip(arrays["line"], ends, arrays["lengths"], strict=True):
            row = by_line[int(line)]
            if row.line in unknown_lines:
                continue
            coords, mask, _ = repair_joints(arrays["coords"][end - length:end], np.ones((length, ROWS_PER_FRAME), bool))
            samples.append(make_sample(root / row.path, coords=coords, mask=mask, layout=LAYOUT,
                                       label=label_of[row.sign], id=row.sequence, signer=row.participant))
    if skipped:
        if not skip_bad:  # a pack made with skip_bad=True, read now without it: the same error as a fresh read
            row, problem = min(skipped, key=lambda rp: rp[0].line)
            raise DataError(root / row.path, f"{problem} (train.csv line {row.line})")
        _report_skips(sorted(skipped, key=lambda rp: rp[0].line), root, len(rows), folder)
    if not samples:
        raise DataError(csv_path, f"no clip could be read ({len(skipped)} skipped)")
    return ClipSet(samples, classes=classes, layout=LAYOUT, name=name or root.name)
