"""Reader for pose-format ``.pose`` files from MediaPipe Holistic (layout ``mediapipe-holistic-543``):
``.pose`` files are read by `gspmc.video.posefile.read_pose_arrays` (the one implementation).

A holistic ``.pose`` file has the components POSE_LANDMARKS (33), FACE_LANDMARKS (468),
LEFT_HAND_LANDMARKS (21), RIGHT_HAND_LANDMARKS (21), possibly more (e.g. POSE_WORLD_LANDMARKS,
which is skipped). Those four are read by name, in that order, for the first person. Coordinates
are the X, Y (and Z when present) dimensions as stored (pose-format keeps pixels; an extra channel
such as AUTSL's K in XYZKC is skipped); a point that pose-format masks, or whose confidence is 0, is
masked (a hand MediaPipe did not detect), and so is one with a NaN/inf coordinate (the repair policy).
Needs the optional ``pose-format`` package (``pip install gspmc[video]``).

A folder of ``.pose`` files is read with a label file (``id,label``), or with its folders naming the
class (and signer / session): a path pattern such as ``{class}/{clip}`` (`gspmc.data.pattern`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm.auto import tqdm

from gspmc.data.pattern import PathPattern, resolve_pattern
from gspmc.data.readers._common import (
    PathT,
    check_clips,
    default_classes,
    label_indices,
    make_sample,
    read_label_table,
)
from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import DataError
from gspmc.video.posefile import read_pose_arrays

LAYOUT = "mediapipe-holistic-543"


def read_pose_file(
    path: PathT, label: int = -1, clip_id: str | None = None, signer: str | None = None, person: int = 0
) -> Sample:
    """One holistic ``.pose`` file as a Sample.

    Raises:
        DataError: naming the file, on a missing/corrupt/truncated file, missing holistic
            components, no frames, or a clip that NaN/inf leaves empty.
    """
    p = Path(path)
    arrays = read_pose_arrays(p, person)
    cid = clip_id or p.stem
    check_clips(p, [cid], arrays.mask[None], arrays.nonfinite[None])
    return make_sample(p, coords=arrays.coords, mask=arrays.mask, layout=LAYOUT, label=label, id=cid,
                       signer=signer, score=arrays.score)


def read_pose_folder(
    folder: PathT,
    labels: PathT | Sequence[tuple[str, str]] | None = None,
    classes: Sequence[str] | None = None,
    name: str | None = None,
    progress: bool = True,
    pattern: str | PathPattern | None = None,
) -> ClipSet:
    """Every ``.pose`` file under ``folder`` (id = relative path without ``.pose``), or the clips a
    label file lists (``id,label``; an id matches ``<id>.pose`` by relative path or file name).

    Without labels, the folders give the class (and signer, session, ...) by the path ``pattern``
    (`gspmc.data.pattern`; default ``{class}/{clip}`` for files two levels down,
    ``{session}/{class}/{clip}`` for three); files directly in ``folder`` (or at mixed depths, without a
    pattern) have label -1 and there are no classes unless given. With labels, a given pattern still supplies signer and meta columns.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "folder not found")
    files = sorted(root.rglob("*.pose"))
    if not files:
        raise DataError(root, "no .pose files found")
    rel = {f: PurePosixPath(f.relative_to(root).as_posix()) for f in files}
    depths = sorted({len(r.parts) for r in rel.values()})
    pat = None
    if pattern is not None or (labels is None and len(depths) == 1 and depths[0] > 1):
        if len(depths) > 1:
            raise DataError(root, f".pose files lie at different depths {depths}; give a label file or keep "
                                  "every clip at <...>/<class>/<clip>.pose")
        pat = resolve_pattern(pattern, depths[0], root)
    fields = {f: pat.match(rel[f].with_suffix(""), root) if pat else {} for f in files}
    by_key: dict[str, Path] = {}
    for f in files:
        by_key.setdefault(f.stem, f)
        by_key[rel[f].as_posix()[: -len(".pose")]] = f
    label_src = Path(labels) if isinstance(labels, str | Path) else None
    if labels is None:
        pairs = [(rel[f].as_posix()[: -len(".pose")], fields[f].get("class", "")) for f in files]
        if pat is not None and "class" in pat.fields:
            class_list = list(classes) if classes is not None else sorted({v for _, v in pairs})
            label_idx = label_indices(root, [v for _, v in pairs], class_list, [k for k, _ in pairs])
        else:
            class_list = list(classes or [])
            label_idx = np.full(len(pairs), -1, dtype=np.int64)
    else:
        pairs = read_label_table(label_src) if label_src is not None else list(labels)  # type: ignore[arg-type]
        class_list = list(classes) if classes is not None else default_classes(v for _, v in pairs)
        label_idx = label_indices(label_src, [v for _, v in pairs], class_list, [k for k, _ in pairs])
    samples, used = [], []
    for (clip_id, _), label in tqdm(list(zip(pairs, label_idx, strict=True)), desc=f"reading {root.name}",
                                    unit="clip", disable=not progress):
        f = by_key.get(clip_id)
        if f is None:
            raise DataError(label_src or root, f"clip {clip_id!r}: no file {clip_id}.pose under {root}")
        samples.append(read_pose_file(f, int(label), clip_id, signer=fields[f].get("signer")))
        used.append(f)
    meta = {c: np.asarray([fields[f].get(c, "") for f in used]) for c in (pat.columns() if pat else [])}
    return ClipSet(samples=samples, classes=class_list, layout=LAYOUT, name=name or root.name, meta=meta)
