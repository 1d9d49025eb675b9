"""MediaPipe Holistic on a video: the frame loop that turns pixels into 543 keypoints per frame.

The output follows pose-format's own holistic convention (``pose_format.utils.holistic``), so a
file we write reads like one written by ``video_to_pose``: four components in this order,

===================== ===== ==============================================
component             count point names
===================== ===== ==============================================
POSE_LANDMARKS        33    MediaPipe ``PoseLandmark`` names (NOSE, ...)
FACE_LANDMARKS        468   "0" ... "467" (face mesh, no iris refinement)
LEFT_HAND_LANDMARKS   21    MediaPipe ``HandLandmark`` names (WRIST, ...)
RIGHT_HAND_LANDMARKS  21    same
===================== ===== ==============================================

x and y are in pixels (landmark x times frame width, y times height), z is MediaPipe's relative
depth as returned (not scaled). Confidence is the pose landmark's visibility for the body, 1 for a
detected face/hand landmark and 0 for a component MediaPipe did not find in that frame; a joint is
*observed* where its confidence is > 0 (pose-format masks the others). "Left" is the signer's left
(MediaPipe Holistic assigns hands from the body pose, not from the image side).

We keep pose-format's separate ``POSE_WORLD_LANDMARKS`` component out: it duplicates the body in
metric units and the shipped AUTSL file does not have it either.

MediaPipe is imported lazily (only when a :class:`HolisticRunner` is created).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import DataError

LAYOUT = "mediapipe-holistic-543"
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
COMPONENTS: tuple[tuple[str, int], ...] = (
    ("POSE_LANDMARKS", 33),
    ("FACE_LANDMARKS", 468),
    ("LEFT_HAND_LANDMARKS", 21),
    ("RIGHT_HAND_LANDMARKS", 21),
)
NUM_POINTS = sum(n for _, n in COMPONENTS)  # 543
# offset of each component in the 543 points
OFFSETS: dict[str, int] = {}
_o = 0
for _name, _n in COMPONENTS:
    OFFSETS[_name] = _o
    _o += _n
del _o, _name, _n

MODEL_COMPLEXITY = 1  # 0 and 2 download their model at first use: only 1 ships in the wheel


@dataclass(frozen=True)
class HolisticClip:
    """Keypoints of one video in the holistic 543 layout.

    Attributes:
        coords: (T, 543, 3) float32; x, y in pixels, z relative depth; 0 where not observed.
        confidence: (T, 543) float32; > 0 where observed (see module docstring).
        fps: frames per second of the source video.
        width, height: frame size in pixels.
    """

    coords: np.ndarray
    confidence: np.ndarray
    fps: float
    width: int
    height: int

    @property
    def mask(self) -> np.ndarray:
        """(T, 543) bool, True where the joint was observed."""
        return self.confidence > 0

    @property
    def num_frames(self) -> int:
        return int(self.coords.shape[0])


def landmarks_to_arrays(results: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """One frame of Holistic results -> coords (543, 3) float32 and confidence (543,) float32.

    A missing component (``None``) leaves zeros in both arrays, i.e. it is masked.
    """
    coords = np.zeros((NUM_POINTS, 3), np.float32)
    conf = np.zeros((NUM_POINTS,), np.float32)
    scale = np.array([width, height, 1.0], np.float32)
    sources = (
        ("POSE_LANDMARKS", results.pose_landmarks, True),
        ("FACE_LANDMARKS", results.face_landmarks, False),
        ("LEFT_HAND_LANDMARKS", results.left_hand_landmarks, False),
        ("RIGHT_HAND_LANDMARKS", results.right_hand_landmarks, False),
    )
    for name, comp, has_visibility in sources:
        if comp is None:
            continue
        n = dict(COMPONENTS)[name]
        lm = comp.landmark
        if len(lm) < n:
            raise ValueError(f"{name}: MediaPipe returned {len(lm)} landmarks, expected {n}")
        start = OFFSETS[name]
        xyz = np.array([[p.x, p.y, p.z] for p in lm[:n]], np.float32)  # (n, 3)
        coords[start : start + n] = xyz * scale
        if has_visibility:
            conf[start : start + n] = np.array([p.visibility for p in lm[:n]], np.float32)
        else:
            conf[start : start + n] = 1.0
    # a body landmark with visibility exactly 0 is treated as unobserved: keep coords consistent
    coords[conf <= 0] = 0.0
    return coords, conf


def open_video(path: str | Path) -> tuple[Any, float, int, int]:
    """Open a video with OpenCV; returns (capture, fps, width, height). Raises DataError if unreadable."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DataError(path, "OpenCV cannot open this file as a video")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 30.0  # unknown frame rate (e.g. some webm files): a common default, documented
    return cap, fps, width, height


def iter_frames(cap: Any) -> Iterator[np.ndarray]:
    """Yield BGR frames from an OpenCV capture until it ends (the capture is released at the end)."""
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        cap.release()


class HolisticRunner:
    """One MediaPipe Holistic graph (model_complexity=1, video tracking mode).

    Call :meth:`reset` between unrelated videos (tracking state would otherwise leak from the last
    frame of one video into the first frame of the next). Not thread-safe: one per process.
    """

    def __init__(self, static_image_mode: bool = False) -> None:
        import mediapipe as mp  # lazy: heavy import, and only the video commands need it

        self._mp = mp
        self._static = static_image_mode
        self._graph = self._new_graph()

    def _new_graph(self) -> Any:
        return self._mp.solutions.holistic.Holistic(
            static_image_mode=self._static, model_complexity=MODEL_COMPLEXITY
        )

    def reset(self) -> None:
        """Start from a fresh graph (no tracking state from the previous video)."""
        self._graph.close()
        self._graph = self._new_graph()

    def process_bgr(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One BGR frame (H, W, 3) uint8 -> coords (543, 3), confidence (543,)."""
        import cv2

        height, width = frame.shape[:2]
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        results = self._graph.process(rgb)
        return landmarks_to_arrays(results, width, height)

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> HolisticRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def extract_video(path: str | Path, runner: HolisticRunner, progress: bool = False) -> HolisticClip:
    """Run Holistic on every frame of a video.

    Raises:
        DataError: the file cannot be opened as a video or has no decodable frame.
    """
    from tqdm import tqdm

    cap, fps, width, height = open_video(path)
    import cv2

    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    runner.reset()
    coords: list[np.ndarray] = []
    confs: list[np.ndarray] = []
    for frame in tqdm(iter_frames(cap), total=total, disable=not progress, desc=Path(path).name, unit="frame"):
        height, width = frame.shape[:2]  # trust decoded frames over container metadata
        c, s = runner.process_bgr(frame)
        coords.append(c)
        confs.append(s)
    if not coords:
        raise DataError(path, "the video has no decodable frame (empty or corrupt)")
    return HolisticClip(
        coords=np.stack(coords),  # (T, 543, 3)
        confidence=np.stack(confs),  # (T, 543)
        fps=fps,
        width=width,
        height=height,
    )
