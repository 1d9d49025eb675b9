"""Reader for packed MP_Data clips: the shared ``traduttore_asl33.npz`` (and what `gspmc data` writes).

Format (``np.savez``; read with ``allow_pickle=False``: an npz holding pickled objects is refused):

=========  =============  ====================================================================
key        shape / dtype  meaning
=========  =============  ====================================================================
keypoints  (N, T, F)      MP_Data frame vectors, F = 258 (pose 33x4 + hands 2x21x3) or 1662
                          (with face 468x3); float16 or float32; frames past ``lengths`` are padding
labels     (N,) int       index into ``classes`` (-1: unknown)
classes    (K,) str       class names
lengths    (N,) int       optional: frames per clip (default T)
signers    (N,) str       optional: who recorded the clip ("" = unknown)
sessions   (N,) str       optional: recording session / source folder (kept as ``meta["session"]``)
ids        (N,) str       optional: unique clip ids (default ``clip<i>``)
meta_NAME  (N,)           optional: any per-clip column (``meta["NAME"]``, as strings), e.g. a camera
                          or a recording day, usable as a protocol group (`gspmc.data.protocols`)
=========  =============  ====================================================================

A hand that was not detected is all zeros in MP_Data; it comes out masked (likewise a frame
without a detected pose masks the 33 pose joints). NaN/inf joints follow the repair policy of
`gspmc.data.readers._common`.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from gspmc.data.readers._common import PathT, check_clips, make_sample, repair_joints
from gspmc.data.sample import ClipSet
from gspmc.errors import DataError
from gspmc.pose.layouts import split_mp_data_vectors

MP_LAYOUTS = {258: "mp-data-258", 1662: "mp-data-1662"}
REQUIRED_KEYS = ("keypoints", "labels", "classes")


def _load_arrays(p: Path) -> dict[str, np.ndarray]:
    """Every array of the npz at ``p`` (pickles refused), or a DataError saying what is wrong."""
    if not p.is_file():
        raise DataError(p, "file not found")
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError(p, "is a single .npy array, not an npz archive")
        with z:
            return {k: z[k] for k in z.files}
    except DataError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise DataError(p, "holds pickled object arrays, which are refused (pickles are code); "
                            "store strings as fixed-width unicode arrays") from None
        raise DataError(p, f"not a readable npz file: {err}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise DataError(p, f"corrupt or truncated npz file: {err}") from None


def _vector(p: Path, arrays: dict[str, np.ndarray], key: str, n: int) -> np.ndarray | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.shape != (n,):
        raise DataError(p, f"'{key}' has shape {value.shape}, expected ({n},)")
    return value


def read_mp_npz(path: PathT, name: str | None = None) -> ClipSet:
    """Read a packed MP_Data npz (see the module docstring) into a ClipSet.

    Vectorised: the 4,693-clip shared file reads in under 2 s.

    Raises:
        DataError: naming the file, on a missing/corrupt/truncated file, missing keys, wrong
            shapes or dtypes, labels outside the class list, duplicate ids, or a clip the repair
            leaves empty.
    """
    p = Path(path)
    return clipset_from_arrays(p, _load_arrays(p), name=name or p.stem)


def split_vectors_repaired(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MP_Data vectors (M, F) -> coords (M, V, 3), mask, score, nonfinite (M, V), with the repair
    policy: a joint with a NaN/inf coordinate is masked (and flagged in ``nonfinite``).

    The vector layout itself is `gspmc.pose.layouts.split_mp_data_vectors`'s; which joints hold a
    non-finite value is found by splitting the 0/1 indicator of non-finite entries the same way.
    """
    vectors = vectors.astype(np.float32)  # (M, F); one pass, also makes float16 input cheap to split
    finite = np.isfinite(vectors)
    if finite.all():
        coords, mask, score = split_mp_data_vectors(vectors)
        return coords, mask, score, np.zeros_like(mask)
    coords, mask, score = split_mp_data_vectors(np.where(finite, vectors, np.float32(0)))
    flagged, _, _ = split_mp_data_vectors((~finite).astype(np.float32))  # (M, V, 3): 1 where non-finite
    nonfinite = flagged.any(axis=-1)  # (M, V)
    coords, mask, _ = repair_joints(coords, mask & ~nonfinite)
    return coords, mask, np.where(mask, score, np.float32(0)), nonfinite


def clipset_from_arrays(p: Path, arrays: dict[str, np.ndarray], name: str) -> ClipSet:
    """Validate arrays in the npz format (module docstring) and turn them into a ClipSet.

    ``p`` is the file (or folder) the arrays came from, named in every error.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise DataError(p, f"missing key(s) {missing}; found {sorted(arrays)}")
    kp = arrays["keypoints"]
    if kp.ndim != 3 or kp.shape[-1] not in MP_LAYOUTS:
        raise DataError(p, f"'keypoints' must have shape (N, T, 258|1662), got {kp.shape}")
    if not np.issubdtype(kp.dtype, np.floating):
        raise DataError(p, f"'keypoints' must be floating point, got {kp.dtype}")
    n, t, f = kp.shape
    if n == 0 or t == 0:
        raise DataError(p, f"no clips or no frames ('keypoints' shape {kp.shape})")
    classes = arrays["classes"]
    if classes.ndim != 1 or classes.dtype.kind not in "US":
        raise DataError(p, f"'classes' must be a 1-d string array, got {classes.dtype} {classes.shape}")
    class_list = [str(c) for c in classes]
    labels = _vector(p, arrays, "labels", n)
    if labels is None or labels.dtype.kind not in "iu":
        raise DataError(p, f"'labels' must be integers, got {None if labels is None else labels.dtype}")
    bad = np.flatnonzero((labels < -1) | (labels >= len(class_list)))
    ids_arr = _vector(p, arrays, "ids", n)
    ids = [str(i) for i in ids_arr] if ids_arr is not None else [f"clip{i}" for i in range(n)]
    if bad.size:
        k = int(bad[0])
        raise DataError(p, f"clip {ids[k]!r}: label {int(labels[k])} is outside the class list "
                           f"(0..{len(class_list) - 1}); {bad.size} clip(s) affected")
    if len(set(ids)) != n:
        raise DataError(p, "'ids' are not unique")
    lengths = _vector(p, arrays, "lengths", n)
    if lengths is None:
        lengths = np.full(n, t, dtype=np.int64)
    elif lengths.dtype.kind not in "iu" or lengths.min() < 1 or lengths.max() > t:
        raise DataError(p, f"'lengths' must be integers in 1..{t}")
    signers = _vector(p, arrays, "signers", n)
    sessions = _vector(p, arrays, "sessions", n)

    coords, mask, score, nonfinite = split_vectors_repaired(kp.reshape(n * t, f))  # (N*T, V, 3), (N*T, V) x3
    v = coords.shape[1]
    coords, mask = coords.reshape(n, t, v, 3), mask.reshape(n, t, v)  # (N, T, V, 3), (N, T, V)
    score, nonfinite = score.reshape(n, t, v), nonfinite.reshape(n, t, v)  # (N, T, V)
    valid = np.arange(t)[None, :] < lengths[:, None]  # (N, T)
    check_clips(p, ids, mask & valid[..., None], nonfinite & valid[..., None])
    layout = MP_LAYOUTS[f]
    samples = []
    for i in range(n):
        length = int(lengths[i])
        signer = str(signers[i]) if signers is not None and str(signers[i]) else None
        samples.append(make_sample(p, coords=coords[i, :length], mask=mask[i, :length], layout=layout,
                                   label=int(labels[i]), id=ids[i], signer=signer, score=score[i, :length]))
    meta = {"session": np.asarray([str(s) for s in sessions])} if sessions is not None else {}
    for key in sorted(k for k in arrays if k.startswith("meta_") and len(k) > 5):
        column = _vector(p, arrays, key, n)
        meta[key[5:]] = np.asarray([str(x) for x in column])  # type: ignore[union-attr]
    return ClipSet(samples=samples, classes=class_list, layout=layout, name=name, meta=meta)
