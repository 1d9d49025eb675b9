"""The studio's web app (FastAPI + uvicorn) and ``serve``: every route is a thin layer over
:mod:`.project`, :mod:`.jobs`, :mod:`.live`, gspmc.openvocab.enroll and the run's evaluation files.

Safety defaults (docs/studio.md): 127.0.0.1 only unless asked; request bodies limited to
``max_upload_mb`` (413 before anything is stored); requests from other origins / hosts refused (403);
uploads type-checked (415, nothing stored); names checked so no path leaves the project folder (400);
every file written atomically.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from gspmc.apps.studio.jobs import Jobs
from gspmc.apps.studio.live import LiveSessions
from gspmc.apps.studio.project import Project, StudioError, decode_image, safe_name
from gspmc.errors import GspmcError
from gspmc.inference.checkpoint import read_checkpoint
from gspmc.inference.metrics import confusion_matrix, predictions
from gspmc.io import read_json
from gspmc.openvocab.enroll import enroll
from gspmc.train.evaluate import load_scores
from gspmc.video.holistic import OFFSETS

DEFAULT_MAX_UPLOAD_MB = 200
STATIC = "static"
UNITS = ("pixels", "normalized")
# --set keys a training job may change from the page (never data.path: the data is the project's)
_SET_RE = re.compile(r"^(input|model|optim|augment)\.[A-Za-z0-9_.]+=.{1,200}$|^data\.(val_fraction|split_seed)=.{1,20}$"
                     r"|^trainer\.seed=\d{1,9}$")
# the skeleton drawn on the dataset page: pose (33) and the two hands (21 each) of the 543 points
_DRAWN = [("POSE_LANDMARKS", 33), ("LEFT_HAND_LANDMARKS", 21), ("RIGHT_HAND_LANDMARKS", 21)]


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class Guard:
    """ASGI middleware in front of the app.

    - 413 to a request whose body is over ``limit`` bytes (Content-Length checked first; a chunked body
      is counted as it arrives and cut off), before anything is stored.
    - 403 to a request from a page of another origin (its ``Origin`` header is not this server): a web
      site open in the same browser cannot upload, delete or start training through the studio.
    - 403 to a ``Host`` that is not a loopback name when ``local_only`` (a DNS-rebinding page).
    """

    def __init__(self, app: Any, limit: int, local_only: bool = True) -> None:
        self.app, self.limit, self.local_only = app, int(limit), local_only

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        if self.local_only and host.rsplit(":", 1)[0] not in LOOPBACK_NAMES:
            await _refuse(send, 403, f"host {host!r} refused: the studio answers only to 127.0.0.1 / localhost "
                          "(gspmc studio --host ... --allow-remote to serve other machines)")
            return
        if origin and origin.split("://", 1)[-1] != host:
            await _refuse(send, 403, f"cross-origin request refused (from {origin}): only the studio's own page "
                          "may use it")
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        started = False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except _TooLarge:
            if not started:
                await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    await _refuse(send, 413, f"upload too large: the limit is {limit // (1024 * 1024)} MB "
                  "(gspmc studio --max-upload-mb); nothing was stored")


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def skeleton_json(clip: Any) -> dict[str, Any]:
    """Keypoints of the drawn joints in [0, 1] image units (None where missing) for the page's canvas."""
    idx = np.concatenate([np.arange(OFFSETS[name], OFFSETS[name] + n) for name, n in _DRAWN])
    scale = np.array([max(clip.width, 1), max(clip.height, 1)], np.float32)
    xy = clip.coords[:, idx, :2] / scale  # (T, 75, 2)
    seen = clip.confidence[:, idx] > 0  # (T, 75)
    frames = [[[round(float(x), 4), round(float(y), 4)] if ok else None for (x, y), ok in zip(f, m, strict=True)]
              for f, m in zip(xy, seen, strict=True)]
    return {"fps": clip.fps, "width": clip.width, "height": clip.height, "frames": frames,
            "parts": {"pose": [0, 33], "left_hand": [33, 54], "right_hand": [54, 75]}}


class Studio:
    """What the routes share: the project, its jobs and the live sessions."""

    def __init__(self, folder: str | Path, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> None:
        self.project = Project(folder)
        self.jobs = Jobs(self.project)
        self.live = LiveSessions()
        self.max_upload_mb = float(max_upload_mb)
        self._enroll_lock = threading.Lock()

    def model_path(self, ref: str) -> Path:
        """``runs/<name>/best.ckpt`` or ``models/<name>.ckpt`` -> the file (checked)."""
        parts = str(ref).split("/")
        if len(parts) == 3 and parts[0] == "runs" and parts[2] in ("best.ckpt", "last.ckpt"):
            path = self.project.runs / safe_name(parts[1], "run") / parts[2]
        elif len(parts) == 2 and parts[0] == "models" and parts[1].endswith(".ckpt"):
            path = self.project.models / f"{safe_name(parts[1][:-5], 'model')}.ckpt"
        else:
            raise StudioError(f"model {ref!r} is not a project model (runs/<name>/best.ckpt or models/<name>.ckpt)")
        path = self.project.inside(path)
        if not path.is_file():
            raise StudioError(f"no model {ref!r}", 404)
        return path

    def models(self) -> list[dict[str, Any]]:
        out = []
        cands = [p for p in sorted(self.project.runs.glob("*/best.ckpt")) if (p.parent / "result.json").is_file()]
        cands += sorted(self.project.models.glob("*.ckpt"))
        for p in cands:
            ref = str(p.relative_to(self.project.root))
            try:
                ckpt = read_checkpoint(p)
                sd = ckpt.get("state_dict", {})
                classes = list(ckpt["gspmc"]["classes"])
                extra = [e.get("gloss") for e in (ckpt.get("gspmc", {}).get("openvocab") or {}).get("enrolled", [])
                         if isinstance(e, dict)]
                gsp = any(k.startswith(("objective.global_head", "openvocab.")) for k in sd)
            except (GspmcError, OSError, KeyError, ValueError, RuntimeError):
                continue
            out.append({"ref": ref, "classes": classes + [g for g in extra if g and g not in classes],
                        "gspmc": gsp})
        return out

    def check_trainable(self, fold: str) -> None:
        """Refuse a run the own-data recipe cannot do: < 2 glosses, < 2 sessions, or an unknown test session."""
        clips = self.project.clips()
        glosses, sessions = {c.gloss for c in clips}, {c.session for c in clips}
        if len(glosses) < 2 or len(sessions) < 2:
            raise StudioError(f"training needs at least 2 glosses and 2 sessions (the test session is left out); the "
                              f"project has {len(glosses)} gloss(es) and {len(sessions)} session(s)")
        if fold not in sessions:
            raise StudioError(f"test session {fold!r} has no clips; choose one of {sorted(sessions)}")

    def evaluation(self, name: str) -> dict[str, Any]:
        run = self.jobs.run_dir(name)
        report_path = run / "report_test.json"
        if not report_path.is_file():
            raise StudioError(f"run {name!r} has no test report yet (it is not complete)", 404)
        report = read_json(report_path)
        sf = load_scores(run / "scores_test.npz")
        cm = confusion_matrix(predictions(sf.scores), sf.labels, len(sf.classes))  # (K, K) rows: true
        return {"name": run.name, "top1": report["metrics"]["top1"], "metrics": report["metrics"],
                "per_class": report["per_class"], "classes": sf.classes, "confusion": cm.tolist(),
                "fold": report.get("fold"), "epoch": report.get("epoch"), "counts": report.get("counts")}


def _error(err: GspmcError) -> JSONResponse:
    return JSONResponse({"error": str(err)}, status_code=getattr(err, "status", 400))


def create_app(folder: str | Path, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, local_only: bool = True) -> FastAPI:
    studio = Studio(folder, max_upload_mb)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studio.live.close()  # training jobs keep running: they outlive the server (jobs.py)
        studio.jobs.shutdown()
        studio.project.close()

    app = FastAPI(title="gspmc studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.studio = studio
    static = resources.files("gspmc.apps.studio") / STATIC

    @app.exception_handler(GspmcError)
    async def _gspmc_error(request: Request, err: GspmcError) -> JSONResponse:
        return _error(err)

    @app.get("/")
    def index() -> Response:
        return Response((static / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    @app.get("/static/{name}")
    def asset(name: str) -> Response:
        types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
        suffix = Path(name).suffix
        if suffix not in types or "/" in name or ".." in name:
            raise StudioError("no such file", 404)
        f = static / name
        if not f.is_file():
            raise StudioError("no such file", 404)
        return Response(f.read_bytes(), media_type=f"{types[suffix]}; charset=utf-8")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {"folder": str(studio.project.root), "max_upload_mb": studio.max_upload_mb}

    # --- dataset --------------------------------------------------------------------------------
    @app.get("/api/clips")
    def clips() -> dict[str, Any]:
        items = [c.to_json() for c in studio.project.clips()]
        glosses: dict[str, dict[str, int]] = {}
        for c in items:
            glosses.setdefault(c["gloss"], {}).setdefault(c["session"], 0)
            glosses[c["gloss"]][c["session"]] += 1
        return {"clips": items, "glosses": glosses,
                "sessions": sorted({c["session"] for c in items})}

    @app.post("/api/clips/video")
    def upload_video(session: Annotated[str, Form()], gloss: Annotated[str, Form()],
                     file: Annotated[UploadFile, File()]) -> dict:
        safe_name(session, "session"), safe_name(gloss, "gloss")
        data = file.file.read()
        return studio.project.add_video(session, gloss, data, file.filename or "upload").to_json()

    @app.post("/api/clips/frames")
    def upload_frames(session: Annotated[str, Form()], gloss: Annotated[str, Form()],
                      frames: Annotated[list[UploadFile], File()], fps: Annotated[float, Form()] = 30.0) -> dict:
        safe_name(session, "session"), safe_name(gloss, "gloss")
        images = [decode_image(f.file.read(), f"frame {i} ({f.filename})") for i, f in enumerate(frames)]
        return studio.project.add_frames(session, gloss, images, fps if 1 <= fps <= 120 else 30.0).to_json()

    @app.delete("/api/clips/{session}/{gloss}/{clip}")
    def delete_clip(session: str, gloss: str, clip: str) -> dict:
        studio.project.delete_clip(session, gloss, clip)
        return {"deleted": f"{session}/{gloss}/{clip}"}

    @app.get("/api/clips/{session}/{gloss}/{clip}/skeleton")
    def skeleton(session: str, gloss: str, clip: str) -> dict:
        return skeleton_json(studio.project.read_keypoints(session, gloss, clip))

    # --- training -------------------------------------------------------------------------------
    @app.get("/api/runs")
    def runs() -> dict[str, Any]:
        return {"runs": [studio.jobs.state(n) for n in studio.jobs.names()]}

    @app.post("/api/runs")
    async def start_run(request: Request) -> dict[str, Any]:
        body = await _json(request)
        sets = [s.strip() for s in str(body.get("settings") or "").splitlines() if s.strip()]
        bad = [s for s in sets if not _SET_RE.match(s)]
        if bad:
            raise StudioError(f"setting(s) not allowed: {bad}; use key=value with input., model., optim., augment., "
                              "data.val_fraction, data.split_seed or trainer.seed")
        try:
            epochs = int(body.get("epochs") or 20)
        except (TypeError, ValueError):
            raise StudioError("epochs must be a whole number") from None
        studio.check_trainable(str(body.get("fold") or ""))
        return studio.jobs.start(str(body.get("name") or ""), str(body.get("fold") or ""), epochs, sets)

    @app.get("/api/runs/{name}")
    def run_state(name: str) -> dict[str, Any]:
        return studio.jobs.state(name)

    @app.post("/api/runs/{name}/stop")
    def stop_run(name: str) -> dict[str, Any]:
        return studio.jobs.stop(name)

    @app.post("/api/runs/{name}/resume")
    def resume_run(name: str) -> dict[str, Any]:
        return studio.jobs.resume(name)

    @app.get("/api/runs/{name}/evaluation")
    def evaluation(name: str) -> dict[str, Any]:
        return studio.evaluation(name)

    # --- models, enrolment ----------------------------------------------------------------------
    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"models": studio.models()}

    @app.post("/api/enroll")
    async def enroll_sign(request: Request) -> dict[str, Any]:
        body = await _json(request)
        src = studio.model_path(str(body.get("model") or ""))
        out_name = safe_name(str(body.get("out") or ""), "new model name")
        out = studio.project.inside(studio.project.models / f"{out_name}.ckpt")
        gloss = safe_name(str(body.get("gloss") or ""), "gloss")
        refs = body.get("clips") or []
        if not isinstance(refs, list) or len(refs) > 5:
            raise StudioError("give 1-5 recordings (or a description)")
        paths = []
        for ref in refs:
            parts = str(ref).split("/")
            if len(parts) != 3:
                raise StudioError(f"recording {ref!r}: expected session/gloss/clip")
            _, pose = studio.project.clip_paths(*parts)
            if not pose.is_file():
                raise StudioError(f"no recording {ref!r}", 404)
            paths.append(pose)
        description = str(body.get("description") or "").strip() or None
        units = str(body.get("units") or "pixels")
        if units not in UNITS:
            raise StudioError(f"units must be one of {UNITS}")
        with studio._enroll_lock:
            result = enroll(src, out, gloss, paths, description, replace=bool(body.get("replace")), units=units)
        return {"model": str(out.relative_to(studio.project.root)), "classes": result.classes,
                "message": result.message}

    # --- live recognition -----------------------------------------------------------------------
    @app.post("/api/live")
    async def live_open(request: Request) -> dict[str, Any]:
        body = await _json(request)
        path = studio.model_path(str(body.get("model") or ""))
        units = str(body.get("units") or "pixels")
        if units not in UNITS:
            raise StudioError(f"units must be one of {UNITS}")
        try:
            frames, k = int(body.get("frames") or 60), int(body.get("k") or 5)
        except (TypeError, ValueError):
            raise StudioError("frames and k must be whole numbers") from None
        if not 2 <= frames <= 600:
            raise StudioError("frames must be 2-600")
        s = studio.live.open(path, units, frames, k)
        return {"session": s.id, "classes": s.predictor.classes}

    @app.post("/api/live/{sid}/frames")
    def live_frames(sid: str, frames: Annotated[list[UploadFile], File()]) -> dict[str, Any]:
        images = [decode_image(f.file.read(), f"frame {i}") for i, f in enumerate(frames)]
        return studio.live.get(sid).push(images)

    @app.delete("/api/live/{sid}")
    def live_close(sid: str) -> dict[str, Any]:
        studio.live.close(sid)
        return {"closed": sid}

    return Guard(app, int(max_upload_mb * 1024 * 1024), local_only)  # type: ignore[return-value]


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise StudioError("expected a JSON body") from None
    if not isinstance(body, dict):
        raise StudioError("expected a JSON object")
    return body


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def serve(folder: str | Path, host: str = "127.0.0.1", port: int = 8765,
          max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> None:
    """Run the studio until Ctrl-C (uvicorn)."""
    import uvicorn

    app = create_app(folder, max_upload_mb, local_only=is_loopback(host))
    uvicorn.run(app, host=host, port=port, log_level="warning")
