"""Reader for a folder of videos: MediaPipe Holistic keypoints extracted once, then read as ``.pose`` files.

``load_dataset("my_videos/")`` (or ``data.path: my_videos`` with ``data.dataset: auto``) runs
``gspmc extract`` (`gspmc.video.extract.extract_many`, the same code) on every video under the folder,
writing ``<keypoints>/<relative path>/<stem>.pose``; a video whose keypoint file exists is not
extracted again, so the second read (and a run resumed after a crash) costs only reading the
``.pose`` files. The keypoint folder defaults to ``cache_dir()/keypoints/<folder name>-<hash of its
path>`` (``keypoints=`` chooses it). The relative paths are kept, so the folders still mean what the
path pattern says (``{class}/{clip}`` for ``<class>/<video>``, `gspmc.data.pattern`).

A video that cannot be read is an error naming it and the extraction report; the other videos'
keypoints stay cached, so fixing or removing the bad file and reading again extracts only what is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from gspmc.data.pattern import PathPattern
from gspmc.data.readers._common import PathT
from gspmc.data.sample import ClipSet
from gspmc.errors import DataError
from gspmc.paths import cache_dir
from gspmc.video.extract import REPORT_NAME, extract_many
from gspmc.video.holistic import VIDEO_EXTENSIONS


def keypoint_folder(root: Path) -> Path:
    """The default cache folder of a video folder's keypoints (one per folder path)."""
    digest = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:12]
    return cache_dir() / "keypoints" / f"{root.resolve().name}-{digest}"


def read_video_folder(
    folder: PathT,
    pattern: str | PathPattern | None = None,
    labels: PathT | Sequence[tuple[str, str]] | None = None,
    classes: Sequence[str] | None = None,
    name: str | None = None,
    keypoints: PathT | None = None,
    workers: int = 1,
    engine: str = "process",
    address: str | None = None,
    progress: bool = True,
) -> ClipSet:
    """Extract (what is not extracted yet) and read every video under ``folder``; see the module docstring.

    ``workers``, ``engine`` (``process`` or ``ray``) and ``address`` (a Ray cluster) go to the
    extraction; ``pattern``, ``labels`` and ``classes`` to `gspmc.data.readers.posefile.read_pose_folder`.

    Raises:
        DataError: the folder is missing or has no video, or some videos could not be read (the
            message names the first one and the report listing all of them).
    """
    from gspmc.data.readers.posefile import read_pose_folder

    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "folder not found")
    if not any(f.suffix.lower() in VIDEO_EXTENSIONS for f in root.rglob("*") if f.is_file()):
        raise DataError(root, f"no videos ({', '.join(VIDEO_EXTENSIONS)}) in this folder")
    out = Path(keypoints) if keypoints is not None else keypoint_folder(root)
    report = extract_many([root], out, fmt="pose", workers=workers, progress=progress, engine=engine,
                          address=address)
    failed = [r for r in report.results if r.status == "error"]
    if failed:
        counts = report.counts()
        raise DataError(failed[0].video, f"{failed[0].error}; {len(failed)} of {len(report.results)} videos could "
                                         f"not be read (all listed in {out / REPORT_NAME}); the "
                                         f"{counts['ok'] + counts['skipped']} others are extracted in {out}: fix "
                                         "or remove the bad videos and read again")
    return read_pose_folder(out, labels=labels, classes=classes, name=name or root.name, progress=progress,
                            pattern=pattern)
