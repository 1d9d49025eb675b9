"""`load_dataset(name_or_path, **kw) -> ClipSet`: one call for every source gspmc reads.

Names:
    ``traduttore``  the packed traduttore recordings, ``data_dir()/traduttore_asl33.npz``
                    (absent: run ``gspmc data`` to fetch and pack them).

Paths (the format is guessed from the path; ``format=`` overrides):
    ``*.npz``                   packed MP_Data clips (`readers.npz.read_mp_npz`)
    ``*.pose`` / folder of them pose-format holistic files (`readers.posefile`)
    folder of videos            extracted once to ``.pose`` files (cached, resumed), then read as
                                such (`readers.videos.read_video_folder`)
    ``*.npy`` + ``labels=``     SAM-SLR arrays (N, C, T, V, M) (`readers.sam_slr.read_sam_slr`)
    folder with ``train.csv`` + ``train_landmark_files/`` (or that ``train.csv``)
                                Kaggle asl-signs (GISLR) parquet files, packed once into a cache
                                (`readers.gislr.read_gislr`)
    folder + ``labels=``        per-video COCO-WholeBody ``.npy`` (`readers.wholebody`)
    folder ``<class>/<seq>/<frame>.npy`` MP_Data tree (`readers.mp_data.read_mp_data`); also one
                                level more (``<session>/<class>/<seq>``) or a ``pattern=``

Formats: ``mp-npz``, ``mp-data``, ``sam-slr``, ``wholebody``, ``autsl``, ``slr500``, ``pose``, ``videos``,
``gislr``.
Keyword arguments go to the reader (``pattern=`` for MP_Data, ``.pose`` and video folders:
`gspmc.data.pattern`). ``class_names=PATH`` reads the dataset's class list file (SLR500's gloss list,
AUTSL's ClassId,TR,EN CSV, WLASL's class list, GISLR's sign map: `readers._common.read_class_names`) and
gives it to the reader as ``classes`` (``class_count=K``: its first K names, e.g. WLASL-100), so numeric
labels get their names and a description store's texts align with them by name.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from gspmc.data.readers._common import read_class_names
from gspmc.data.sample import ClipSet
from gspmc.errors import ConfigError, DataError
from gspmc.paths import data_dir
from gspmc.video.holistic import VIDEO_EXTENSIONS

TRADUTTORE_FILE = "traduttore_asl33.npz"
FORMATS = ("mp-npz", "mp-data", "sam-slr", "wholebody", "autsl", "slr500", "pose", "videos", "gislr")


def traduttore_path() -> Path:
    """Where the packed traduttore recordings live (and where `gspmc data` writes them)."""
    return data_dir() / TRADUTTORE_FILE


def _guess_format(p: Path, kw: dict[str, Any]) -> str:
    from gspmc.data.readers.gislr import CSV_NAME, is_gislr_folder

    if is_gislr_folder(p) or (p.name == CSV_NAME and is_gislr_folder(p.parent)):
        return "gislr"  # before any rglob: its tree holds ~94k files
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".npz":
            return "mp-npz"
        if suffix == ".pose":
            return "pose"
        if suffix == ".npy":
            return "sam-slr"
        raise DataError(p, f"cannot tell the format of a {suffix or 'suffix-less'} file; pass format= one of "
                           f"{', '.join(FORMATS)}")
    if not p.is_dir():
        raise DataError(p, "no such file or folder")
    if {"train_csv", "val_csv", "test_csv"} <= kw.keys():
        return "autsl"
    if next(p.rglob("*.pose"), None) is not None:
        return "pose"
    if "labels" in kw:
        return "wholebody"
    if next(p.rglob("*.npy"), None) is None and any(f.suffix.lower() in VIDEO_EXTENSIONS for f in p.rglob("*")):
        return "videos"
    return "mp-data"


def class_list_path(path: str | PathLike[str]) -> Path:
    """A class list file named in ``data.options.class_names``: as given when it exists, else under
    ``data_dir()`` (so ``vocab/slr500_gloss_label.txt`` finds the shared copy)."""
    p = Path(path).expanduser()
    if p.is_file() or p.is_absolute():
        return p
    return data_dir() / p


def load_dataset(name_or_path: str | PathLike[str], format: str | None = None, **kw: Any) -> ClipSet:
    """Read a dataset by name (``traduttore``) or path; see the module docstring.

    Raises:
        DataError: the data is missing (with what to run) or bad (naming the file).
        ConfigError: an unknown format.
    """
    if isinstance(kw.get("class_names"), str | PathLike):  # the dataset's class list file -> classes=
        names = read_class_names(class_list_path(kw.pop("class_names")))
        count = kw.pop("class_count", None)  # WLASL-K: the first K names of the 2,000-class list
        if count is not None:
            if not 1 <= int(count) <= len(names):
                raise ConfigError(f"data.options.class_count {count}: the class list has {len(names)} names")
            names = names[: int(count)]
        kw["classes"] = names
    if str(name_or_path) == "traduttore":
        p = traduttore_path()
        if not p.is_file():
            raise DataError(p, "the traduttore recordings are not there; run `gspmc data` to fetch and pack "
                               "them (or set GSPMC_DATA to the folder that holds traduttore_asl33.npz)")
        format = format or "mp-npz"
        kw.setdefault("name", "traduttore")
    elif str(name_or_path) == "gislr" and not Path("gislr").exists():
        raise DataError(None, "the GISLR corpus (Kaggle asl-signs) has no default place: set data.path to the "
                              "folder holding train.csv and train_landmark_files/")
    else:
        p = Path(name_or_path).expanduser()
    fmt = format or _guess_format(p, kw)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown dataset format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt == "mp-npz":
        from gspmc.data.readers.npz import read_mp_npz

        return read_mp_npz(p, **kw)
    if fmt == "mp-data":
        from gspmc.data.readers.mp_data import read_mp_data

        return read_mp_data(p, **kw)
    if fmt == "sam-slr":
        from gspmc.data.readers.sam_slr import read_sam_slr

        if "labels" not in kw and "label_path" not in kw:
            raise ConfigError(f"{p}: SAM-SLR arrays need their label file (labels=...)")
        return read_sam_slr(p, kw.pop("labels", None) or kw.pop("label_path"), **kw)
    if fmt == "wholebody":
        from gspmc.data.readers.wholebody import read_wholebody_folder

        return read_wholebody_folder(p, **kw)
    if fmt == "autsl":
        from gspmc.data.readers.wholebody import read_autsl

        return read_autsl(p, **kw)
    if fmt == "slr500":
        from gspmc.data.readers.wholebody import read_slr500

        return read_slr500(p, **kw)
    if fmt == "gislr":
        from gspmc.data.readers.gislr import read_gislr

        return read_gislr(p, **kw)
    if fmt == "videos":
        from gspmc.data.readers.videos import read_video_folder

        return read_video_folder(p, **kw)
    from gspmc.data.readers.posefile import read_pose_file, read_pose_folder

    if p.is_file():
        sample = read_pose_file(p, **{k: v for k, v in kw.items() if k in ("label", "clip_id", "signer")})
        return ClipSet([sample], classes=list(kw.get("classes") or []), layout=sample.layout, name=p.stem)
    return read_pose_folder(p, **kw)
