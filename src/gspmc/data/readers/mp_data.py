"""Reader for an MP_Data folder tree: ``<root>/<class>/<sequence>/<frame>.npy``.

This is the common MediaPipe-tutorial format (and how github.com/traduttore/traduttore-model stores
its recordings): one ``.npy`` per frame holding a 258-float vector (pose 33x4 + two hands 21x3) or a
1662-float one (with the 468-point face). A hand that was not detected is all zeros and comes out
masked. Frames are ordered by their integer file name; sequences by name (as strings, which is the
order of the packed npz); classes by folder name unless a class list is given.

Clip ids are ``<root folder name>/<class>/<sequence>`` (e.g. ``MP_Data/coffee/12``); the root folder
name is kept as the clip's session (``meta["session"]``). Signers are not in the tree: pass a mapping
clip id -> signer (`gspmc data` derives one from git history).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

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


def scan_mp_data(root: PathT, classes: Sequence[str] | None = None) -> tuple[list[TreeClip], list[str]]:
    """List the clips of an MP_Data tree without reading frames.

    Args:
        root: the folder holding one sub-folder per class.
        classes: the class list; when given, a class folder not in it is an error. Default: the
            sorted folder names.

    Returns:
        (clips in class-list order, then sequence name order; the class list).

    Raises:
        DataError: naming the path, when ``root`` is not a folder, has no class folders, a frame
            file name is not an integer, or a sequence folder has no frames.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise DataError(root_path, "MP_Data folder not found")
    folders = sorted(d.name for d in root_path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise DataError(root_path, "no class folders (expected <root>/<class>/<sequence>/<frame>.npy)")
    if classes is None:
        class_list = folders
    else:
        class_list = [str(c) for c in classes]
        unknown = sorted(set(folders) - set(class_list))
        if unknown:
            raise DataError(root_path / unknown[0], f"class folder(s) {unknown} are not in the class list")
    clips: list[TreeClip] = []
    for class_name in class_list:
        class_dir = root_path / class_name
        if not class_dir.is_dir():
            continue
        for seq_dir in sorted((d for d in class_dir.iterdir() if d.is_dir()), key=lambda d: d.name):
            frames = []
            for f in seq_dir.glob("*.npy"):
                try:
                    frames.append((int(f.stem), f))
                except ValueError:
                    raise DataError(f, "frame file name is not an integer frame number") from None
            if not frames:
                raise DataError(seq_dir, "sequence folder has no <frame>.npy files")
            frames.sort()
            clips.append(TreeClip(class_name, seq_dir.name, tuple(f for _, f in frames),
                                  f"{root_path.name}/{class_name}/{seq_dir.name}"))
    if not clips:
        raise DataError(root_path, "no clips found (expected <root>/<class>/<sequence>/<frame>.npy)")
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
) -> dict[str, np.ndarray]:
    """Read an MP_Data tree into the arrays of the packed npz format (`gspmc.data.readers.npz`).

    ``keypoints`` is float32 (N, T_max, F), zero-padded past each clip's ``lengths``. ``signers``
    maps clip ids to signer names; clips it lacks get "" (unknown).

    Raises:
        DataError: naming the file, on a bad tree or frame (see `scan_mp_data`), or frames of
            different widths (258 and 1662 mixed).
    """
    root_path = Path(root)
    clips, class_list = scan_mp_data(root_path, classes)
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
    return {
        "keypoints": keypoints,
        "lengths": lengths,
        "labels": np.array([index[c.class_name] for c in clips], dtype=np.int64),
        "classes": np.array(class_list, dtype=str),
        "signers": np.array([signer_map.get(c.id, "") for c in clips], dtype=str),
        "sessions": np.array([root_path.name] * len(clips), dtype=str),
        "ids": np.array([c.id for c in clips], dtype=str),
    }


def read_mp_data(
    root: PathT,
    classes: Sequence[str] | None = None,
    signers: Mapping[str, str] | None = None,
    name: str | None = None,
    progress: bool = True,
) -> ClipSet:
    """Read an MP_Data tree into a ClipSet (layout ``mp-data-258`` or ``mp-data-1662``).

    See `read_mp_data_arrays` for the arguments; NaN/inf frames follow the repair policy of
    `gspmc.data.readers._common` (errors name the tree's root folder and the clip id).
    """
    root_path = Path(root)
    arrays = read_mp_data_arrays(root_path, classes, signers, progress)
    return clipset_from_arrays(root_path, arrays, name=name or root_path.name)
