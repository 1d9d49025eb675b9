"""``gspmc extract``: videos -> one keypoint file per video, in parallel, resumable.

- Inputs: video files and/or folders (searched recursively for :data:`VIDEO_EXTENSIONS`).
- Output: ``OUT/<relative path>/<stem>.pose`` (or ``.npz``), written atomically.
- Resume: an output that already exists is complete (atomic writes) and is skipped.
- Errors: a video that cannot be read, or has no frames, is recorded and skipped; the batch goes
  on. ``OUT/extract_report.json`` lists every input with its status (``ok``, ``skipped``,
  ``error``), output path, frame count, seconds and the error message.
- Workers: ``N`` processes, each with its own MediaPipe graph (MediaPipe graphs are not
  thread-safe); ``1`` runs in this process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from gspmc.errors import DataError, GspmcError
from gspmc.video.posefile import FORMATS, atomic_write, write_clip

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
REPORT_NAME = "extract_report.json"


@dataclass
class ExtractResult:
    """What happened to one input video."""

    video: str
    output: str
    status: str  # ok | skipped | error
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ExtractReport:
    results: list[ExtractResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "skipped": 0, "error": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_json(self) -> dict:
        return {"counts": self.counts(), "files": [asdict(r) for r in self.results]}


def find_videos(inputs: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """Resolve inputs to ``(video, relative output stem)`` pairs, sorted, without duplicates.

    A file given directly is taken as a video whatever its extension (a bad one is reported at
    extraction). A folder contributes its videos recursively; their relative paths are kept so
    that ``a/x.mp4`` and ``b/x.mp4`` do not collide.

    Raises:
        DataError: an input path does not exist.
    """
    pairs: dict[Path, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for video in sorted(path.rglob("*")):
                if video.is_file() and video.suffix.lower() in VIDEO_EXTENSIONS:
                    pairs.setdefault(video.resolve(), video.relative_to(path).with_suffix(""))
        elif path.is_file():
            pairs.setdefault(path.resolve(), Path(path.stem))
        else:
            raise DataError(path, "no such file or folder")
    stems = [str(s) for s in pairs.values()]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise GspmcError(f"several inputs would write the same output: {dupes[:5]} (pass their parent folder instead)")
    return sorted(pairs.items(), key=lambda kv: str(kv[1]))


# --- worker side --------------------------------------------------------------------------------
_RUNNER = None  # one HolisticRunner per worker process


def _worker_runner():
    global _RUNNER
    if _RUNNER is None:
        from gspmc.video.holistic import HolisticRunner

        _quiet_native_logs()  # before MediaPipe's first import in this process

        _RUNNER = HolisticRunner()
    return _RUNNER


def _quiet_native_logs() -> None:
    """Silence TensorFlow Lite / glog chatter in worker processes (it would break the progress bar)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def extract_one(video: str | Path, output: str | Path) -> ExtractResult:
    """Extract one video to ``output``; never raises for a bad video (the result says why)."""
    from gspmc.video.holistic import extract_video

    start = time.perf_counter()
    try:
        clip = extract_video(video, _worker_runner())
        write_clip(output, clip)
        return ExtractResult(str(video), str(output), "ok", clip.num_frames, time.perf_counter() - start)
    except GspmcError as err:
        return ExtractResult(str(video), str(output), "error", 0, time.perf_counter() - start, str(err))
    except Exception as err:  # a decoder / MediaPipe failure on one file must not stop the batch
        msg = f"{video}: {type(err).__name__}: {err}"
        return ExtractResult(str(video), str(output), "error", 0, time.perf_counter() - start, msg)


# --- driver -------------------------------------------------------------------------------------
def extract_many(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    fmt: str = "pose",
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
) -> ExtractReport:
    """Extract every video in ``inputs`` into ``out_dir``; write and return the report.

    Args:
        inputs: video files and/or folders.
        out_dir: where keypoint files and ``extract_report.json`` go.
        fmt: ``pose`` or ``npz``.
        workers: worker processes (>= 1); each loads its own MediaPipe graph.
        progress: show a tqdm bar (one tick per video).
        overwrite: re-extract videos whose output already exists (default: skip them).
    """
    from tqdm import tqdm

    if fmt not in FORMATS:
        raise GspmcError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    if workers < 1:
        raise GspmcError(f"--workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[Path, Path]] = []
    report = ExtractReport()
    for video, stem in find_videos(inputs):
        output = out_dir / stem.with_suffix(f".{fmt}")
        if output.exists() and not overwrite:
            report.results.append(ExtractResult(str(video), str(output), "skipped"))
        else:
            todo.append((video, output))

    bar = tqdm(total=len(todo), disable=not progress, desc="extract", unit="video")
    try:
        if workers == 1 or len(todo) <= 1:
            for video, output in todo:
                report.results.append(extract_one(video, output))
                bar.update(1)
        else:
            ctx = get_context("spawn")  # fresh interpreters: no MediaPipe/torch state copied by fork
            with ProcessPoolExecutor(
                max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_quiet_native_logs
            ) as pool:
                futures = [pool.submit(extract_one, video, output) for video, output in todo]
                for fut in as_completed(futures):
                    report.results.append(fut.result())
                    bar.update(1)
    finally:
        bar.close()
        report.results.sort(key=lambda r: r.output)
        write_report(out_dir / REPORT_NAME, report)
    return report


def write_report(path: Path, report: ExtractReport) -> None:
    text = json.dumps(report.to_json(), indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
