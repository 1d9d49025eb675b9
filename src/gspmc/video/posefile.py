"""Writing and reading the per-video keypoint files that ``gspmc extract`` produces.

Two formats, same content (a :class:`~gspmc.video.holistic.HolisticClip`):

- ``.pose`` (pose-format, the sign-language community's binary format): header version 0.1,
  components POSE_LANDMARKS, FACE_LANDMARKS, LEFT_HAND_LANDMARKS, RIGHT_HAND_LANDMARKS with
  pose-format's own holistic point names and limbs, point format XYZC, one person; a joint with
  confidence 0 is masked. Readable by ``pose_format.Pose.read`` and by ``gspmc.data``; read back by
  :func:`read_pose_arrays`, the one implementation (the data package's ``.pose`` reader calls it).
- ``.npz`` (ours, no pickles): ``coords`` (T, 543, 3) float32, ``confidence`` (T, 543) float32,
  ``fps`` (), ``width`` (), ``height`` () and ``layout`` = ``"mediapipe-holistic-543"``.

Both writers are atomic (temporary file in the same folder + ``os.replace``): a killed extraction
never leaves a truncated file that a resumed run would skip as done.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gspmc.errors import DataError, GspmcError
from gspmc.io import atomic_write  # one atomic-write helper for the project
from gspmc.pose.repair import repair_joints
from gspmc.video.holistic import COMPONENTS, LAYOUT, NUM_POINTS, HolisticClip

FORMATS = ("pose", "npz")


def _pose_header(width: int, height: int):  # -> pose_format.pose_header.PoseHeader
    """pose-format header for our 4 holistic components, with pose-format's names and limbs."""
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    by_name = {c.name: c for c in holistic_components("XYZC")}
    components = [by_name[name] for name, _ in COMPONENTS]
    for comp, (name, n) in zip(components, COMPONENTS, strict=True):
        if len(comp.points) != n:
            raise RuntimeError(f"pose-format's {name} has {len(comp.points)} points, expected {n}")
    dims = PoseHeaderDimensions(width=int(width), height=int(height), depth=0)
    return PoseHeader(version=0.1, dimensions=dims, components=components)


def write_pose(path: str | os.PathLike[str], clip: HolisticClip) -> Path:
    """Write ``clip`` as a pose-format ``.pose`` file (atomic)."""
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody

    header = _pose_header(clip.width, clip.height)
    data = clip.coords[:, None].astype(np.float32)  # (T, 1, 543, 3): one person
    conf = clip.confidence[:, None].astype(np.float32)  # (T, 1, 543)
    pose = Pose(header, NumPyPoseBody(fps=float(clip.fps), data=data, confidence=conf))
    return atomic_write(path, pose.write)


def write_npz(path: str | os.PathLike[str], clip: HolisticClip) -> Path:
    """Write ``clip`` as our ``.npz`` (atomic, compressed, no pickled objects)."""

    def _write(f: BinaryIO) -> None:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            coords=clip.coords.astype(np.float32),
            confidence=clip.confidence.astype(np.float32),
            fps=np.float32(clip.fps),
            width=np.int32(clip.width),
            height=np.int32(clip.height),
            layout=np.str_(LAYOUT),
        )
        f.write(buf.getvalue())

    return atomic_write(path, _write)


def write_clip(path: str | os.PathLike[str], clip: HolisticClip) -> Path:
    """Write by extension (``.pose`` or ``.npz``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pose":
        return write_pose(path, clip)
    if suffix == ".npz":
        return write_npz(path, clip)
    raise DataError(path, f"unknown keypoint file extension {suffix!r} (use .pose or .npz)")


def _pose_class() -> type:
    try:
        from pose_format import Pose
    except ImportError:  # pragma: no cover - depends on the environment
        raise GspmcError("reading .pose files needs the pose-format package: pip install 'gspmc[video]'") from None
    return Pose


@dataclass(frozen=True)
class PoseArrays:
    """One person of a holistic ``.pose`` file in the 543 layout, repaired.

    Attributes:
        coords: (T, 543, D) float32, D = 2 (X, Y) or 3 (X, Y, Z); 0 where not observed.
        mask: (T, 543) bool, observed (not masked by pose-format, confidence > 0, finite).
        score: (T, 543) float32 confidence, 0 where not observed.
        nonfinite: (T, 543) bool, joints masked because a coordinate was NaN/inf.
        fps: frames per second; width, height: the frame size stored in the header.
    """

    coords: np.ndarray
    mask: np.ndarray
    score: np.ndarray
    nonfinite: np.ndarray
    fps: float
    width: int
    height: int


def read_pose_arrays(path: str | os.PathLike[str], person: int = 0) -> PoseArrays:
    """Read one person of a holistic ``.pose`` file (see the module docstring).

    Raises:
        DataError: naming the file, on a missing/corrupt/truncated file, missing holistic
            components or points, a point format without X and Y, no frames, or no such person.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "file not found")
    pose_cls = _pose_class()
    try:
        pose = pose_cls.read(p.read_bytes())
    except Exception as err:  # pose-format raises struct/value/index errors on bad bytes
        raise DataError(p, f"corrupt or truncated .pose file: {type(err).__name__}: {err}") from None
    header = pose.header
    by_name = {c.name: c for c in header.components}
    offsets, start = {}, 0
    for comp in header.components:
        offsets[comp.name] = start
        start += len(comp.points)
    missing = [n for n, _ in COMPONENTS if n not in by_name]
    if missing:
        raise DataError(p, f"not a MediaPipe Holistic pose file: missing component(s) {missing}; "
                           f"found {list(by_name)}")
    for comp_name, count in COMPONENTS:
        if len(by_name[comp_name].points) != count:
            raise DataError(p, f"component {comp_name} has {len(by_name[comp_name].points)} points, "
                               f"expected {count}")
    point_index = np.concatenate([np.arange(offsets[n], offsets[n] + k) for n, k in COMPONENTS])  # (543,)
    dims = by_name["POSE_LANDMARKS"].format.replace("C", "")
    keep = [dims.index(d) for d in "XYZ" if d in dims]
    if keep[:2] != [0, 1]:
        raise DataError(p, f"point format {by_name['POSE_LANDMARKS'].format!r} lacks X, Y")
    data = pose.body.data  # (T, P, points, dims) masked array
    conf = np.asarray(pose.body.confidence)  # (T, P, points)
    if data.ndim != 4 or data.shape[0] == 0:
        raise DataError(p, f"no frames (body shape {data.shape})")
    if not 0 <= person < data.shape[1]:
        raise DataError(p, f"has {data.shape[1]} person(s); person={person} does not exist")
    values = np.ma.getdata(data)[:, person][:, point_index][..., keep].astype(np.float32)  # (T, 543, D)
    masked = np.ma.getmaskarray(data)[:, person][:, point_index].any(axis=-1)  # (T, 543)
    score = np.nan_to_num(conf[:, person][:, point_index].astype(np.float32), nan=0.0)  # (T, 543)
    coords, mask, nonfinite = repair_joints(values, ~masked & (score > 0))
    dim = header.dimensions
    return PoseArrays(coords, mask, np.where(mask, score, 0.0).astype(np.float32), nonfinite,
                      float(pose.body.fps), int(dim.width), int(dim.height))



def read_pose(path: str | os.PathLike[str]) -> HolisticClip:
    """Read a holistic ``.pose`` file (ours or pose-format's ``video_to_pose``) into the 543 layout.

    The reading is :func:`read_pose_arrays` (one implementation): components
    by name, so extra components (e.g. POSE_WORLD_LANDMARKS) or an extra channel (AUTSL's XYZKC) are
    ignored; x, y, z as stored (z = 0 for an XY file); a joint is observed where pose-format does not
    mask it, its confidence is > 0 and its coordinates are finite (else coordinates and confidence 0).

    Raises:
        DataError: unreadable file, or a holistic component is missing / has the wrong size.
    """
    arrays = read_pose_arrays(path)
    coords = arrays.coords
    if coords.shape[-1] == 2:
        coords = np.concatenate([coords, np.zeros_like(coords[..., :1])], axis=-1)  # (T, 543, 3)
    return HolisticClip(coords.astype(np.float32), arrays.score, arrays.fps, arrays.width, arrays.height)


def read_npz(path: str | os.PathLike[str]) -> HolisticClip:
    """Read our ``.npz`` keypoint file. Raises DataError naming the file and the problem."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"coords", "confidence", "fps", "width", "height"} - set(z.files)
            if missing:
                raise DataError(path, f"missing arrays {sorted(missing)} (not a gspmc extract .npz)")
            layout = str(z["layout"]) if "layout" in z.files else LAYOUT
            coords = z["coords"].astype(np.float32)
            confidence = z["confidence"].astype(np.float32)
            fps, width, height = float(z["fps"]), int(z["width"]), int(z["height"])
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except DataError:
        raise
    except Exception as err:
        raise DataError(path, f"not a readable .npz ({type(err).__name__}: {err})") from err
    if layout != LAYOUT:
        raise DataError(path, f"layout {layout!r}, expected {LAYOUT!r}")
    if coords.ndim != 3 or coords.shape[1:] != (NUM_POINTS, 3) or confidence.shape != coords.shape[:2]:
        raise DataError(path, f"coords {coords.shape} / confidence {confidence.shape}: expected (T, 543, 3) / (T, 543)")
    if coords.shape[0] == 0:
        raise DataError(path, "no frames")
    if not np.isfinite(coords).all():
        raise DataError(path, "coords contain NaN or inf")
    return HolisticClip(coords, confidence, fps, width, height)


def read_clip(path: str | os.PathLike[str]) -> HolisticClip:
    """Read a ``.pose`` or ``.npz`` keypoint file by extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pose":
        return read_pose(path)
    if suffix == ".npz":
        return read_npz(path)
    raise DataError(path, f"unknown keypoint file extension {suffix!r} (expected .pose or .npz)")
