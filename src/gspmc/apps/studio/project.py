"""The studio's project folder: the same formats the CLI reads, so ``gspmc`` and the studio share it.

Layout (docs/studio.md)::

    FOLDER/
      videos/<session>/<gloss>/<clip>.mp4        recordings and uploads, as received (``gspmc extract`` input)
      keypoints/<session>/<gloss>/<clip>.pose    MediaPipe Holistic keypoints (``gspmc extract`` output;
                                                 ``gspmc fit --config own-data --set data.path=FOLDER/keypoints``)
      runs/<name>/                               ``gspmc fit --out`` folders (+ job.json, job.log of the studio)
      models/<name>.ckpt                         enrolled checkpoints (``gspmc enroll --out``)

Every name that becomes a path (gloss, session, clip, run, model) is checked by :func:`safe_name`
and the resulting path must lie inside the folder; every file is written atomically (gspmc.io), under
a name no other request uses, so concurrent requests never leave a half-written or mixed file.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gspmc.errors import DataError, GspmcError
from gspmc.io import remove_stale_temps, write_bytes
from gspmc.video.holistic import VIDEO_EXTENSIONS, HolisticClip, HolisticRunner, extract_video, open_video
from gspmc.video.posefile import read_clip, write_clip

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$")
MAX_FRAMES = 600  # frames in one recorded clip (20 s at 30 fps)
# leading bytes of the container formats accepted as a video upload (checked before OpenCV reads it)
_MAGIC = (
    (4, b"ftyp"),             # MP4 / MOV / M4V (ISO base media: size, then 'ftyp')
    (0, b"\x1aE\xdf\xa3"),    # WebM / Matroska (EBML)
    (0, b"RIFF"),             # AVI
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
)


class StudioError(GspmcError):
    """A request the studio refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def safe_name(name: str, what: str = "name") -> str:
    """``name`` stripped, if it is a plain name (letters, digits, ``_ . - space``, at most 64, no ``..``)."""
    text = str(name).strip()
    if not NAME_RE.match(text) or ".." in text or text.endswith("."):
        raise StudioError(f"{what} {name!r} is not allowed: use letters, digits, '_', '-', '.' or spaces "
                          "(at most 64 characters, no '..', no '/')")
    return text


def looks_like_video(head: bytes) -> bool:
    """True when the first bytes are those of a video container the studio accepts."""
    return any(head[off:off + len(magic)] == magic for off, magic in _MAGIC)


@dataclass(frozen=True)
class ClipInfo:
    session: str
    gloss: str
    clip: str
    frames: int
    has_video: bool

    def to_json(self) -> dict:
        return {"session": self.session, "gloss": self.gloss, "clip": self.clip, "frames": self.frames,
                "video": self.has_video}


class Project:
    """A project folder (see the module docstring). Thread-safe: one MediaPipe graph behind a lock."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        for sub in ("videos", "keypoints", "runs", "models"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("videos", "keypoints", "models"):
            remove_stale_temps(self.root / sub, recursive=True)
        # what a server killed mid-upload left (uploads are written under these names, then removed)
        for stale in [*self.root.glob("videos/.upload-*"), *self.root.glob("videos/*/*/.*.partial.mp4")]:
            stale.unlink(missing_ok=True)
        self._runner: HolisticRunner | None = None
        self._mp_lock = threading.Lock()
        self._frames_cache: dict[Path, tuple[float, int]] = {}

    # --- paths ----------------------------------------------------------------------------------
    @property
    def keypoints(self) -> Path:
        return self.root / "keypoints"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def inside(self, path: Path) -> Path:
        """``path`` resolved, if it lies inside the project folder (StudioError otherwise)."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise StudioError(f"{path.name!r}: outside the project folder")
        return resolved

    def clip_paths(self, session: str, gloss: str, clip: str) -> tuple[Path, Path]:
        s, g, c = safe_name(session, "session"), safe_name(gloss, "gloss"), safe_name(clip, "clip")
        video = self.inside(self.root / "videos" / s / g / f"{c}.mp4")
        pose = self.inside(self.keypoints / s / g / f"{c}.pose")
        return video, pose

    # --- dataset --------------------------------------------------------------------------------
    def clips(self) -> list[ClipInfo]:
        """Every clip with keypoints, sorted by gloss, session, clip."""
        out = []
        for pose in sorted(self.keypoints.glob("*/*/*.pose")):
            session, gloss, clip = pose.parent.parent.name, pose.parent.name, pose.stem
            video = self.root / "videos" / session / gloss / f"{clip}.mp4"
            out.append(ClipInfo(session, gloss, clip, self._frames(pose), video.is_file()))
        return sorted(out, key=lambda c: (c.gloss, c.session, c.clip))

    def _frames(self, pose: Path) -> int:
        mtime = pose.stat().st_mtime
        hit = self._frames_cache.get(pose)
        if hit and hit[0] == mtime:
            return hit[1]
        try:
            n = read_clip(pose).num_frames
        except (GspmcError, OSError, ValueError):
            n = 0
        self._frames_cache[pose] = (mtime, n)
        return n

    def read_keypoints(self, session: str, gloss: str, clip: str) -> HolisticClip:
        _, pose = self.clip_paths(session, gloss, clip)
        if not pose.is_file():
            raise StudioError(f"no clip {session}/{gloss}/{clip}", 404)
        return read_clip(pose)

    def delete_clip(self, session: str, gloss: str, clip: str) -> None:
        video, pose = self.clip_paths(session, gloss, clip)
        if not pose.is_file() and not video.is_file():
            raise StudioError(f"no clip {session}/{gloss}/{clip}", 404)
        for p in (pose, video):
            p.unlink(missing_ok=True)
        for folder in (pose.parent, video.parent, pose.parent.parent, video.parent.parent):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass

    # --- adding clips ---------------------------------------------------------------------------
    def new_clip_name(self) -> str:
        """A clip name no other request gets: time + random suffix."""
        return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)

    def add_video(self, session: str, gloss: str, data: bytes, filename: str = "upload") -> ClipInfo:
        """Store an uploaded video and its keypoints; nothing is stored if it is not a readable video."""
        suffix = Path(filename).suffix.lower()
        if suffix and suffix not in VIDEO_EXTENSIONS:
            raise StudioError(f"{filename!r} is not a video file (expected one of {', '.join(VIDEO_EXTENSIONS)}); "
                              "nothing was stored", 415)
        if not looks_like_video(data[:16]):
            raise StudioError(f"{filename!r} is not a video file (its content is not MP4, WebM, MKV, AVI or "
                              "MPEG); nothing was stored", 415)
        clip = self.new_clip_name()
        video, pose = self.clip_paths(session, gloss, clip)
        tmp = self.root / "videos" / f".upload-{clip}{suffix or '.mp4'}"
        write_bytes(tmp, data)
        try:
            try:
                open_video(tmp)[0].release()
                keypoints = self._extract(tmp)
            except DataError as err:
                raise StudioError(f"{filename!r} could not be read as a video ({err.problem}); nothing was stored",
                                  415) from None
            if suffix in ("", ".mp4"):
                video.parent.mkdir(parents=True, exist_ok=True)
                write_bytes(video, tmp.read_bytes())
            else:  # keep the CLI's one layout: re-encode to .mp4
                write_frames_video(video, _read_all_frames(tmp), keypoints.fps)
            pose.parent.mkdir(parents=True, exist_ok=True)
            write_clip(pose, keypoints)
        finally:
            tmp.unlink(missing_ok=True)
        return ClipInfo(session, gloss, clip, keypoints.num_frames, True)

    def add_frames(self, session: str, gloss: str, frames: list[np.ndarray], fps: float = 30.0) -> ClipInfo:
        """Store a clip recorded in the page (N BGR frames) as an .mp4 and its keypoints."""
        if not frames:
            raise StudioError("the recording has no frames")
        if len(frames) > MAX_FRAMES:
            raise StudioError(f"the recording has {len(frames)} frames; at most {MAX_FRAMES}")
        clip = self.new_clip_name()
        video, pose = self.clip_paths(session, gloss, clip)
        video.parent.mkdir(parents=True, exist_ok=True)
        write_frames_video(video, frames, fps)
        try:  # from the stored .mp4, as `gspmc extract videos/` would: the CLI and the studio see the same keypoints
            keypoints = self._extract(video)
        except DataError as err:
            video.unlink(missing_ok=True)
            raise StudioError(f"the recording could not be stored as a video ({err.problem})", 500) from None
        pose.parent.mkdir(parents=True, exist_ok=True)
        write_clip(pose, keypoints)
        return ClipInfo(session, gloss, clip, keypoints.num_frames, True)

    def _runner_locked(self) -> HolisticRunner:
        if self._runner is None:
            self._runner = HolisticRunner()
        return self._runner

    def _extract(self, video: Path) -> HolisticClip:
        """The same per-video function as ``gspmc extract`` (a fresh tracking state per video)."""
        with self._mp_lock:
            runner = self._runner_locked()
            runner.reset()
            return extract_video(video, runner)

    def close(self) -> None:
        with self._mp_lock:
            if self._runner is not None:
                self._runner.close()
                self._runner = None


def decode_image(data: bytes, what: str) -> np.ndarray:
    """A JPEG / PNG frame -> BGR (H, W, 3) uint8; StudioError if it is not an image."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if arr is None:
        raise StudioError(f"{what} is not a JPEG or PNG image; nothing was stored", 415)
    return arr


def write_frames_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Frames -> an .mp4 (OpenCV, mp4v), written to a temporary name and renamed into place."""
    import cv2

    h, w = frames[0].shape[:2]
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps or 30.0), (w, h))
    try:
        for f in frames:
            writer.write(f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h)))
    finally:
        writer.release()
    tmp.replace(path)
    return path


def _read_all_frames(video: Path) -> list[np.ndarray]:
    from gspmc.video.holistic import iter_frames

    cap = open_video(video)[0]
    return list(iter_frames(cap))
