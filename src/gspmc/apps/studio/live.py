"""Live recognition in the studio: frames from the page -> MediaPipe -> top-k and the running transcript.

One :class:`LiveSession` per open recognise page: its own MediaPipe graph (tracking state), the last
``clip_frames`` frames' keypoints (the top-k is computed on them, as ``gspmc predict`` does on a clip)
and a :class:`gspmc.apps.spotting.Transcriber` fed every frame (the streaming spotter of ``gspmc live
--transcribe``): each sign is emitted once, when it is over.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.apps.spotting import LIVE_SPOT, Transcriber
from gspmc.apps.studio.project import StudioError
from gspmc.inference.predictor import Predictor
from gspmc.video.holistic import LAYOUT, HolisticRunner

MAX_SESSIONS = 4
IDLE_S = 600.0  # a session unused this long is closed


class LiveSession:
    def __init__(self, checkpoint: Path, units: str = "pixels", clip_frames: int = 60, k: int = 5) -> None:
        self.id = secrets.token_hex(8)
        self.checkpoint = checkpoint
        self.predictor = Predictor.from_files([checkpoint], units=units)
        self.units = units
        self.k = max(1, min(int(k), len(self.predictor.classes)))
        self.frames: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(maxlen=max(2, int(clip_frames)))
        self.transcriber = Transcriber(self.predictor, LAYOUT, LIVE_SPOT)  # the operating point of `gspmc live --transcribe`
        self.segments: list[dict[str, Any]] = []
        self.count = 0
        self.runner: HolisticRunner | None = HolisticRunner()
        self.lock = threading.Lock()
        self.used = time.monotonic()

    def push(self, images: list[np.ndarray]) -> dict[str, Any]:
        """BGR frames (in order) -> the state after them."""
        with self.lock:
            if self.runner is None:
                raise StudioError("this live session is closed; start a new one", 410)
            self.used = time.monotonic()
            for img in images:
                coords, conf = self.runner.process_bgr(img)
                h, w = img.shape[:2]
                scale = np.array([w, h, 1.0] if self.units == "normalized" else [1.0, 1.0, 1.0], np.float32)
                mask = conf > 0
                norm = np.where(mask[:, None], coords / scale, 0.0).astype(np.float32)  # (543, 3)
                self.frames.append((norm, mask, conf.astype(np.float32)))
                for seg in self.transcriber.push(norm, mask, conf):
                    self.segments.append({"gloss": seg.gloss, "start": seg.start, "end": seg.end,
                                          "score": float(seg.score)})
                self.count += 1
            return self.result()

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frames": self.count, "window": len(self.frames), "top": [],
                               "transcript": list(self.segments)}
        if not self.frames:
            return out
        coords = np.stack([f[0] for f in self.frames])  # (T, 543, 3)
        mask = np.stack([f[1] for f in self.frames])  # (T, 543)
        score = np.stack([f[2] for f in self.frames])  # (T, 543)
        if not mask.any():
            out["message"] = "no person seen yet"
            return out
        probs = self.predictor.probabilities(coords, mask, LAYOUT, score=score, source="live")
        glosses, ps = self.predictor.top_k(probs, self.k)
        out["top"] = [{"gloss": g, "prob": p} for g, p in zip(glosses, ps, strict=True)]
        return out

    def close(self) -> None:
        with self.lock:
            if self.runner is not None:
                self.runner.close()
                self.runner = None


class LiveSessions:
    def __init__(self) -> None:
        self._sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    def open(self, checkpoint: Path, units: str, clip_frames: int, k: int) -> LiveSession:
        session = LiveSession(checkpoint, units, clip_frames, k)
        with self._lock:
            now = time.monotonic()
            stale = [s for s in self._sessions.values() if now - s.used > IDLE_S]
            while len(self._sessions) - len(stale) >= MAX_SESSIONS:
                stale.append(min(self._sessions.values(), key=lambda s: s.used))
            for s in stale:
                self._sessions.pop(s.id, None)
                s.close()
            self._sessions[session.id] = session
        return session

    def get(self, sid: str) -> LiveSession:
        with self._lock:
            s = self._sessions.get(sid)
        if s is None:
            raise StudioError("no such live session (closed or the server restarted); start again", 404)
        return s

    def close(self, sid: str | None = None) -> None:
        with self._lock:
            victims = [self._sessions.pop(sid)] if sid in self._sessions else [] if sid else list(self._sessions.values())
            if sid is None:
                self._sessions.clear()
        for s in victims:
            s.close()
