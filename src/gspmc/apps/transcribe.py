"""``gspmc transcribe``: the signs of a continuous video or keypoint file, with times (docs/transcribe.md).

Input frames stream through :class:`gspmc.apps.spotting.Transcriber` (bounded memory): a video is read
frame by frame and each frame goes through MediaPipe Holistic; our ``.npz`` keypoint files are read in
chunks straight from the archive; a ``.pose`` file is read whole by pose-format (its reader has no
streaming mode). Output per input: a table on stdout, ``<stem>.json``, ``<stem>.srt`` (subtitles, the
``srt`` package) and ``<stem>.eaf`` (an ELAN tier ``gloss``, pympi-ling).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.apps.segments import Segment
from gspmc.apps.spotting import DEFAULT_SPOT, SpotConfig, Transcriber
from gspmc.errors import DataError, GspmcError
from gspmc.inference.predictor import POSE_EXTENSIONS, Predictor
from gspmc.io import write_text
from gspmc.video.holistic import LAYOUT, VIDEO_EXTENSIONS, open_video
from gspmc.video.posefile import read_clip

FrameIter = Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]
CHUNK = 256  # frames read at a time from an .npz archive
FIXED_DATE = "2026-01-01T00:00:00+00:00"  # ELAN files of the tests (golden files) carry this date


@dataclass
class FrameSource:
    """Frames of one input: ``frames`` yields (coords (543, 3) normalised or pixels, mask (543,), score)."""

    frames: FrameIter
    fps: float
    total: int | None


def _scale(width: int, height: int, units: str) -> np.ndarray:
    if units == "pixels":
        return np.ones(3, np.float32)
    if width <= 0 or height <= 0:
        raise DataError(None, f"frame size {width}x{height} unknown: cannot normalise coordinates")
    return np.array([width, height, 1.0], np.float32)


def _frame(coords: np.ndarray, conf: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = conf > 0
    return np.where(mask[:, None], coords / scale, 0.0).astype(np.float32), mask, conf.astype(np.float32)


def _npy_rows(zf: zipfile.ZipFile, member: str, path: Path) -> Iterator[np.ndarray]:
    """Rows of one .npy inside an .npz, CHUNK at a time (never the whole array in memory)."""
    try:
        f = zf.open(member)
    except KeyError:
        raise DataError(path, f"keypoint .npz has no {member!r} array") from None
    with f:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)  # noqa: SLF001
        if fortran or not shape:
            raise DataError(path, f"{member}: unsupported array layout")
        row = int(np.prod(shape[1:], dtype=np.int64))
        for start in range(0, shape[0], CHUNK):
            n = min(CHUNK, shape[0] - start)
            buf = f.read(n * row * dtype.itemsize)
            if len(buf) != n * row * dtype.itemsize:
                raise DataError(path, f"{member}: truncated")
            yield np.frombuffer(buf, dtype).reshape((n, *shape[1:]))


def npz_source(path: Path, units: str = "normalized") -> FrameSource:
    """Stream an ``.npz`` keypoint file written by ``gspmc extract`` (see gspmc.video.posefile)."""
    try:
        zf = zipfile.ZipFile(path)
        with zf.open("fps.npy") as f:
            fps = float(np.load(io.BytesIO(f.read())))
        sizes = {}
        for key in ("width", "height"):
            with zf.open(f"{key}.npy") as f:
                sizes[key] = int(np.load(io.BytesIO(f.read())))
        with zf.open("coords.npy") as f:
            version = np.lib.format.read_magic(f)
            total = int(np.lib.format._read_array_header(f, version)[0][0])  # noqa: SLF001
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError) as e:
        raise DataError(path, f"not a gspmc keypoint .npz ({e})") from None
    scale = _scale(sizes["width"], sizes["height"], units)

    def frames() -> FrameIter:
        with zf:
            for c, s in zip(_npy_rows(zf, "coords.npy", path), _npy_rows(zf, "confidence.npy", path), strict=True):
                for i in range(c.shape[0]):
                    yield _frame(c[i].astype(np.float32), s[i].astype(np.float32), scale)

    return FrameSource(frames(), fps if fps > 0 else 30.0, total)


def video_source(path: Path, runner: Any, units: str = "normalized") -> FrameSource:
    """Stream a video through MediaPipe Holistic, one frame at a time."""
    import cv2

    cap, fps, width, height = open_video(path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    runner.reset()

    def frames() -> FrameIter:
        try:
            while True:
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                h, w = frame.shape[:2]
                coords, conf = runner.process_bgr(frame)  # (543, 3) pixels, (543,)
                yield _frame(coords, conf, _scale(w, h, units))
        finally:
            cap.release()

    return FrameSource(frames(), fps, total)


def pose_source(path: Path, units: str = "normalized") -> FrameSource:
    """A ``.pose`` file (read whole by pose-format), yielded frame by frame."""
    clip = read_clip(path)
    scale = _scale(clip.width, clip.height, units)

    def frames() -> FrameIter:
        for t in range(clip.num_frames):
            yield _frame(clip.coords[t], clip.confidence[t], scale)

    return FrameSource(frames(), clip.fps, clip.num_frames)


def open_source(path: Path, units: str = "normalized", runner: Any = None) -> FrameSource:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(path, "no such file")
    if path.stat().st_size == 0:
        raise DataError(path, "the file is empty")
    if suffix == ".npz":
        return npz_source(path, units)
    if suffix in POSE_EXTENSIONS:
        return pose_source(path, units)
    if suffix in VIDEO_EXTENSIONS:
        if runner is None:
            raise GspmcError("a video input needs a MediaPipe runner")
        return video_source(path, runner, units)
    raise DataError(path, f"unknown input type {suffix!r} (a video {VIDEO_EXTENSIONS} or {POSE_EXTENSIONS})")


# --- transcripts ----------------------------------------------------------------------------------
@dataclass
class Transcript:
    input: str
    fps: float
    frames: int
    segments: list[Segment] = field(default_factory=list)
    message: str | None = None
    config: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"input": self.input, "fps": self.fps, "frames": self.frames, "message": self.message,
                "config": self.config, "segments": [s.to_json(self.fps) for s in self.segments]}


def transcribe_source(predictor: Predictor, source: FrameSource, name: str, cfg: SpotConfig = DEFAULT_SPOT,
                      progress: bool = False) -> Transcript:
    """Run the transcriber over one input's frames (streaming; a tqdm bar when ``progress``)."""
    from tqdm import tqdm

    tr = Transcriber(predictor, LAYOUT, cfg)
    frames = tqdm(source.frames, total=source.total, disable=not progress, desc=Path(name).name, unit="frame")
    segments = list(tr.run(frames))
    message = tr.stats.message()
    if message is None and not segments:
        message = "no sign was found"
    return Transcript(name, source.fps, tr.stats.frames, segments, message, cfg.to_json())


def transcribe_file(predictor: Predictor, path: Path, cfg: SpotConfig = DEFAULT_SPOT, runner: Any = None,
                    units: str = "normalized", progress: bool = False) -> Transcript:
    return transcribe_source(predictor, open_source(path, units, runner), str(path), cfg, progress)


def format_table(tr: Transcript) -> str:
    lines = [f"{tr.input}: {len(tr.segments)} sign(s), {tr.frames} frames at {tr.fps:g} fps"]
    if tr.message:
        lines.append(f"  ({tr.message})")
    if tr.segments:
        lines.append(f"  {'start s':>8} {'end s':>8} {'frames':>13}  {'score':>5}  gloss")
        for s in tr.segments:
            mark = "  (partial: input ended mid-sign)" if s.partial else ""
            lines.append(f"  {s.start / tr.fps:8.2f} {s.end / tr.fps:8.2f} {s.start:6d}-{s.end:<6d}  "
                         f"{s.score:5.2f}  {s.gloss}{mark}")
    return "\n".join(lines)


def _ms(frame: int, fps: float) -> int:
    return int(round(frame * 1000.0 / fps))


def srt_text(tr: Transcript) -> str:
    """SubRip subtitles: one cue per sign, the gloss (``...`` appended to a partial one)."""
    import srt

    subs = [srt.Subtitle(i + 1, timedelta(milliseconds=_ms(s.start, tr.fps)),
                         timedelta(milliseconds=_ms(s.end, tr.fps)), s.gloss + (" ..." if s.partial else ""))
            for i, s in enumerate(tr.segments)]
    return srt.compose(subs, reindex=False)


def write_eaf(tr: Transcript, path: Path, media: Path | None = None, date: str | None = None) -> Path:
    """An ELAN ``.eaf`` with one tier ``gloss`` (a partial sign's value ends in ``...``)."""
    from pympi.Elan import Eaf, to_eaf

    eaf = Eaf(author="gspmc")
    if date is not None:
        eaf.adocument["DATE"] = date
    eaf.add_tier("gloss")
    eaf.remove_tier("default")
    if media is not None:
        mime = {".mp4": "video/mp4", ".mov": "video/quicktime", ".mpg": "video/mpeg"}.get(media.suffix.lower(),
                                                                                        "video/*")
        eaf.add_linked_file(media.resolve().as_uri(), relpath=media.name, mimetype=mime)
    for s in tr.segments:
        end = max(_ms(s.end, tr.fps), _ms(s.start, tr.fps) + 1)
        eaf.add_annotation("gloss", _ms(s.start, tr.fps), end, s.gloss + (" ..." if s.partial else ""))
    tmp = path.with_name(path.name + ".tmp")
    to_eaf(str(tmp), eaf, pretty=True)
    tmp.replace(path)
    return path


def write_outputs(tr: Transcript, out_dir: Path, stem: str, media: Path | None = None,
                  date: str | None = None) -> list[Path]:
    """``<stem>.json``, ``<stem>.srt`` and ``<stem>.eaf`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_text(out_dir / f"{stem}.json", json.dumps(tr.to_json(), indent=2) + "\n"),
             write_text(out_dir / f"{stem}.srt", srt_text(tr))]
    paths.append(write_eaf(tr, out_dir / f"{stem}.eaf", media, date))
    return [Path(p) for p in paths]
