"""Reader for an MP_Data folder tree: ``<root>/<class>/<sequence>/<frame>.npy``, or several of them.

This is the common MediaPipe-tutorial format (and how github.com/traduttore/traduttore-model stores
its recordings): one ``.npy`` per frame holding a 258-float vector (pose 33x4 + two hands 21x3) or a
1662-float one (with the 468-point face). A hand that was not detected is all zeros and comes out
masked. Frames are ordered by their integer file name; sequences by name (as strings, which is the
order of the packed npz); classes by name unless a class list is given.

Folders above the class folder carry signer / session / anything else: a path pattern
(`gspmc.data.pattern`, e.g. ``{session}/{class}/{sequence}`` for one MP_Data tree per recording
session) says what each level means; without one, two levels are ``{class}/{sequence}`` and three are
``{session}/{class}/{sequence}``.

Clip ids are ``<root folder name>/<path of the sequence folder>`` (e.g. ``MP_Data/coffee/12``). The
session (``meta["session"]``) is the ``{session}`` level, else the root folder name; other named
levels become ``meta`` columns too. Signers come from a ``{signer}`` level, or from a mapping clip
id -> signer (`gspmc data` derives one from git history), which wins where it has the clip.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm.auto import tqdm

from gspmc.data.pattern import PathPattern, resolve_pattern
from gspmc.data.readers._common import PathT, load_npy
from gspmc.data.readers.npz import MP_LAYOUTS, clipset_from_arrays
from gspmc.data.sample import ClipSet
from gspmc.errors import DataError


@dataclass(frozen=True)
class TreeClip:
    """One clip found in an MP_Data tree."""

    class_name: str
    sequence: str
    frames: tuple[Path, ...]  # in frame order
    id: str
    fields: dict[str, str] = field(default_factory=dict)  # the path pattern's values (signer, session, ...)


def _sequence_folders(root: Path) -> list[tuple[PurePosixPath, list[Path]]]:
    """(path relative to ``root``, frame files) of every folder holding ``.npy`` files (hidden ones skipped).

    Raises DataError for a leaf folder without frames (an empty sequence).
    """
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        frames = [here / f for f in filenames if f.endswith(".npy")]
        if frames:
            out.append((PurePosixPath(here.relative_to(root).as_posix()), frames))
        elif not dirnames and here != root:
            raise DataError(here, "sequence folder has no <frame>.npy files")
    return out


def scan_mp_data(root: PathT, classes: Sequence[str] | None = None,
                 pattern: str | PathPattern | None = None) -> tuple[list[TreeClip], list[str]]:
    """List the clips of an MP_Data tree without reading frames.

    Args:
        root: the folder holding the class folders (or the session folders above them, ...).
        classes: the class list; when given, a class not in it is an error. Default: the sorted
            class names found.
        pattern: what the folder levels mean (`gspmc.data.pattern`); default by depth.

    Returns:
        (clips in class-list order, then by path; the class list).

    Raises:
        DataError: naming the path, when ``root`` is not a folder, has no class folders, a frame
            file name is not an integer, a sequence folder has no frames, or the sequence folders
            lie at different depths.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise DataError(root_path, "MP_Data folder not found")
    if not any(d.is_dir() and not d.name.startswith(".") for d in root_path.iterdir()):
        raise DataError(root_path, "no class folders (expected <root>/<class>/<sequence>/<frame>.npy)")
    found = _sequence_folders(root_path)
    if not found:
        raise DataError(root_path, "no clips found (expected <root>/<class>/<sequence>/<frame>.npy)")
    depths = sorted({len(rel.parts) for rel, _ in found})
    if len(depths) > 1:
        odd = next(rel for rel, _ in found if len(rel.parts) != depths[0])
        raise DataError(root_path / odd, f"sequence folders lie at different depths {depths} below {root_path}; "
                                         "every clip must be <...>/<class>/<sequence>/<frame>.npy at one depth")
    pat = resolve_pattern(pattern, depths[0], root_path)
    if "class" not in pat.fields:
        raise DataError(root_path, f"path pattern {pat.text!r} has no {{class}} level: MP_Data labels come "
                                   "from a class folder")
    clips: list[TreeClip] = []
    for rel, files in found:
        frames = []
        for f in files:
            try:
                frames.append((int(f.stem), f))
            except ValueError:
                raise DataError(f, "frame file name is not an integer frame number") from None
        frames.sort()
        values = pat.match(rel, root_path)
        clips.append(TreeClip(values["class"], rel.name, tuple(f for _, f in frames),
                              f"{root_path.name}/{rel.as_posix()}", values))
    names = sorted({c.class_name for c in clips})
    if classes is None:
        class_list = names
    else:
        class_list = [str(c) for c in classes]
        unknown = sorted(set(names) - set(class_list))
        if unknown:
            where = next(c for c in clips if c.class_name == unknown[0]).frames[0].parent.parent
            raise DataError(where, f"class folder(s) {unknown} are not in the class list")
    order = {c: i for i, c in enumerate(class_list)}
    clips.sort(key=lambda c: (order[c.class_name], c.id.split("/")[1:]))
    return clips, class_list


def _load_frame(path: Path) -> np.ndarray:
    vec = load_npy(path)
    if vec.ndim != 1 or vec.shape[0] not in MP_LAYOUTS:
        raise DataError(path, f"frame must be a vector of 258 or 1662 floats, got shape {vec.shape}")
    if not np.issubdtype(vec.dtype, np.number):
        raise DataError(path, f"frame must be numeric, got dtype {vec.dtype}")
    return vec


def read_mp_data_arrays(
    root: PathT,
    classes: Sequence[str] | None = None,
    signers: Mapping[str, str] | None = None,
    progress: bool = True,
    pattern: str | PathPattern | None = None,
) -> dict[str, np.ndarray]:
    """Read an MP_Data tree into the arrays of the packed npz format (`gspmc.data.readers.npz`).

    ``keypoints`` is float32 (N, T_max, F), zero-padded past each clip's ``lengths``. ``signers``
    maps clip ids to signer names (it wins over a ``{signer}`` level); clips without either get ""
    (unknown). Named pattern levels other than class, signer and session are ``meta_<name>`` arrays.

    Raises:
        DataError: naming the file, on a bad tree or frame (see `scan_mp_data`), or frames of
            different widths (258 and 1662 mixed).
    """
    root_path = Path(root)
    clips, class_list = scan_mp_data(root_path, classes, pattern)
    vectors: list[np.ndarray] = []
    width = None
    for clip in tqdm(clips, desc=f"reading {root_path.name}", unit="clip", disable=not progress):
        frames = [_load_frame(f) for f in clip.frames]
        for f, vec in zip(clip.frames, frames, strict=True):
            if width is None:
                width = vec.shape[0]
            elif vec.shape[0] != width:
                raise DataError(f, f"frame has {vec.shape[0]} values but earlier frames have {width}")
        vectors.append(np.stack(frames).astype(np.float32))  # (T, F)
    assert width is not None
    lengths = np.array([v.shape[0] for v in vectors], dtype=np.int32)
    keypoints = np.zeros((len(vectors), int(lengths.max()), width), dtype=np.float32)  # (N, T_max, F)
    for i, v in enumerate(vectors):
        keypoints[i, : len(v)] = v
    index = {c: i for i, c in enumerate(class_list)}
    signer_map = signers or {}
    extra = sorted({k for c in clips for k in c.fields} - {"class", "signer", "session", "clip"})
    return {
        "keypoints": keypoints,
        "lengths": lengths,
        "labels": np.array([index[c.class_name] for c in clips], dtype=np.int64),
        "classes": np.array(class_list, dtype=str),
        "signers": np.array([signer_map.get(c.id, c.fields.get("signer", "")) for c in clips], dtype=str),
        "sessions": np.array([c.fields.get("session", root_path.name) for c in clips], dtype=str),
        "ids": np.array([c.id for c in clips], dtype=str),
        **{f"meta_{k}": np.array([c.fields.get(k, "") for c in clips], dtype=str) for k in extra},
    }


def read_mp_data(
    root: PathT,
    classes: Sequence[str] | None = None,
    signers: Mapping[str, str] | None = None,
    name: str | None = None,
    progress: bool = True,
    pattern: str | PathPattern | None = None,
) -> ClipSet:
    """Read an MP_Data tree into a ClipSet (layout ``mp-data-258`` or ``mp-data-1662``).

    See `read_mp_data_arrays` for the arguments; NaN/inf frames follow the repair policy of
    `gspmc.data.readers._common` (errors name the tree's root folder and the clip id).
    """
    root_path = Path(root)
    arrays = read_mp_data_arrays(root_path, classes, signers, progress, pattern)
    return clipset_from_arrays(root_path, arrays, name=name or root_path.name)
