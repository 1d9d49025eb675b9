"""``gspmc live``: recognise signs from a webcam or a video file played as a stream.

Each frame goes through MediaPipe Holistic; its keypoints (normalised image units, as in
:mod:`gspmc.inference.predictor`) enter a sliding window of the last ``window`` frames. Every ``stride``
frames the window is classified by the fused models and the top prediction is drawn on the frame
(OpenCV window; ``q`` or Esc quits) or, with ``headless``, printed as one line per prediction.

With ``transcribe`` (``gspmc live --transcribe``) the frames also feed a
:class:`gspmc.apps.spotting.Transcriber`: each sign is emitted once, when it is over (a headless line
``sign <start>-<end> <gloss> <score>``), and the running transcript (the last signs) is drawn on the frame.

Frames are processed as fast as they arrive (a file is not paced to its frame rate), so the
frames-per-second figure measures the whole chain: decoding, MediaPipe, windowing, the model.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.apps.segments import Segment
from gspmc.apps.spotting import LIVE_SPOT, SpotConfig, Transcriber
from gspmc.errors import DataError, GspmcError
from gspmc.inference.predictor import Predictor
from gspmc.video.holistic import LAYOUT, HolisticRunner, iter_frames


@dataclass
class LiveEvent:
    """One prediction made on the window ending at ``frame`` (0-based)."""

    frame: int
    gloss: str
    prob: float


@dataclass
class LiveStats:
    frames: int = 0
    predictions: int = 0
    seconds: float = 0.0
    events: list[LiveEvent] = field(default_factory=list)
    signs: list[Segment] = field(default_factory=list)  # with transcribe: every sign emitted

    @property
    def fps(self) -> float:
        """End-to-end frames per second (decode + MediaPipe + model), 0 when nothing ran."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class SlidingWindow:
    """The last ``size`` frames of keypoints: coords (size, V, D), mask (size, V), score (size, V)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise GspmcError(f"window must be >= 1 frame, got {size}")
        self.size = size
        self._frames: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=size)

    def push(self, coords: np.ndarray, mask: np.ndarray, score: np.ndarray | None = None) -> None:
        """Add one frame: coords (V, D), mask (V,), detector score (V,) (default: the mask)."""
        score = mask.astype(np.float32) if score is None else score
        self._frames.append((coords, mask, score))

    def __len__(self) -> int:
        return len(self._frames)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """coords (t, V, D), mask (t, V), score (t, V) of the frames held (t <= size), oldest first."""
        coords, mask, score = zip(*self._frames, strict=True)
        return np.stack(coords), np.stack(mask), np.stack(score)


def open_source(video: str | Path | None, camera: int | None) -> Any:
    """An OpenCV capture for a video file or a camera index; DataError if it cannot be opened."""
    import cv2

    if video is not None:
        path = Path(video)
        if not path.is_file():
            raise DataError(path, "no such video file")
        cap = cv2.VideoCapture(str(path))
        name: str | Path = path
    else:
        cap = cv2.VideoCapture(int(camera or 0))
        name = f"camera {int(camera or 0)}"
    if not cap.isOpened():
        cap.release()
        raise DataError(str(name), "cannot open the video source")
    return cap


def draw_label(frame: np.ndarray, text: str, bottom: bool = False) -> None:
    """Draw ``text`` in a filled box at the top-left (or bottom-left) of ``frame`` (in place)."""
    import cv2

    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    y0 = frame.shape[0] - (h + base + 12) if bottom else 0
    cv2.rectangle(frame, (0, y0), (w + 12, y0 + h + base + 12), (0, 0, 0), -1)
    cv2.putText(frame, text, (6, y0 + h + 6), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def transcript_line(signs: list[Segment], keep: int = 8) -> str:
    """The running transcript drawn on the frame: the last ``keep`` glosses."""
    return " ".join(s.gloss for s in signs[-keep:]) or "(no sign yet)"


def run_live(
    predictor: Predictor,
    video: str | Path | None = None,
    camera: int | None = None,
    window: int | None = None,
    stride: int = 5,
    headless: bool = False,
    max_frames: int | None = None,
    min_prob: float = 0.0,
    emit: Callable[[str], None] = print,
    transcribe: bool = False,
    spot: SpotConfig | None = None,
) -> LiveStats:
    """Run the live loop until the source ends, ``max_frames`` frames, or the user quits.

    Args:
        window: frames in the sliding window (default: the first model's ``input_cfg.window``).
        stride: classify every ``stride`` frames once the window is full.
        headless: print predictions instead of showing an OpenCV window.
        min_prob: only report a prediction whose fused probability reaches this value.
        emit: where headless lines go (``print``; tests capture them).
        transcribe: also spot signs (module docstring); ``spot`` its thresholds (default LIVE_SPOT).
            With it, the per-window lines are not printed, only one line per finished sign.
    """
    import cv2

    if stride < 1:
        raise GspmcError(f"--stride must be >= 1, got {stride}")
    size = int(window or predictor.scorers[0].input_cfg.window)
    buf = SlidingWindow(size)
    cap = open_source(video, camera)
    stats = LiveStats()
    label = "..."
    tr = Transcriber(predictor, LAYOUT, spot or LIVE_SPOT, size) if transcribe else None

    def signed(found: list[Segment]) -> None:
        for seg in found:
            stats.signs.append(seg)
            if headless:
                emit(f"sign {seg.start:6d}-{seg.end:<6d} {seg.gloss}  {seg.score:.3f}"
                     + ("  (partial)" if seg.partial else ""))

    start = time.perf_counter()
    with HolisticRunner() as runner:
        for frame in iter_frames(cap):
            height, width = frame.shape[:2]
            coords, conf = runner.process_bgr(frame)  # (543, 3) pixels, (543,)
            mask = conf > 0
            scale = np.array([width, height, 1.0] if predictor.units == "normalized" else [1.0, 1.0, 1.0], np.float32)
            norm = np.where(mask[:, None], coords / scale, 0.0).astype(np.float32)
            buf.push(norm, mask, conf)
            if tr is not None:
                signed(tr.push(norm, mask, conf))
            t = stats.frames
            stats.frames += 1
            if len(buf) == size and (t + 1 - size) % stride == 0:
                c, m, sc = buf.arrays()  # (size, 543, 3), (size, 543), (size, 543)
                if m.any():
                    probs = predictor.probabilities(c, m, LAYOUT, score=sc)
                    best = int(np.argmax(probs))
                    stats.predictions += 1
                    if probs[best] >= min_prob:
                        event = LiveEvent(t, predictor.classes[best], float(probs[best]))
                        stats.events.append(event)
                        label = f"{event.gloss} {event.prob:.0%}"
                        if headless and tr is None:
                            emit(f"frame {t:6d}  {event.gloss}  {event.prob:.3f}")
            if not headless:
                draw_label(frame, label)
                if tr is not None:
                    draw_label(frame, transcript_line(stats.signs), bottom=True)
                cv2.imshow("gspmc live", frame)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if max_frames is not None and stats.frames >= max_frames:
                break
    if tr is not None:
        signed(tr.finish())
    cap.release()  # the frame generator releases it too when exhausted; early exits land here
    stats.seconds = time.perf_counter() - start
    if not headless:
        cv2.destroyAllWindows()
    if stats.frames == 0:
        raise DataError(str(video if video is not None else f"camera {camera}"), "no frame could be read")
    return stats
