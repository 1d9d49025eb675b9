"""``gspmc extract``: videos -> one keypoint file per video, in parallel, resumable.

- Inputs: video files and/or folders (searched recursively for :data:`VIDEO_EXTENSIONS`).
- Output: ``OUT/<relative path>/<stem>.pose`` (or ``.npz``), written atomically.
- Resume: an output that already exists is complete (atomic writes) and is skipped; temporary
  files that a killed run left (``.<name>.<pid>.*.tmp``) are removed at the start.
- Errors: a video that cannot be read, or has no frames, is recorded and skipped; the batch goes
  on. ``OUT/extract_report.json`` lists every input with its status (``ok``, ``skipped``,
  ``error``), output path, frame count, seconds, the worker that did it and the error message.
- Engines: ``process`` (default): ``N`` local worker processes, each with its own MediaPipe graph
  (MediaPipe graphs are not thread-safe); ``1`` runs in this process. ``ray``: the same per-video
  function (:func:`extract_one`) as Ray tasks, one CPU each, on a local Ray instance of ``N``
  workers or on the cluster at ``address`` (``ray://host:10001`` or ``auto``); there the inputs and
  ``OUT`` must be paths every node sees (a shared file system). Each Ray worker process keeps its
  MediaPipe graph between tasks.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from gspmc.errors import DataError, GspmcError
from gspmc.io import remove_stale_temps
from gspmc.video.holistic import VIDEO_EXTENSIONS
from gspmc.video.posefile import FORMATS, atomic_write, write_clip

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
    worker: str = ""  # host:pid of the process that extracted it


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


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def extract_one(video: str | Path, output: str | Path) -> ExtractResult:
    """Extract one video to ``output``; never raises for a bad video (the result says why)."""
    from gspmc.video.holistic import extract_video

    start = time.perf_counter()
    try:
        clip = extract_video(video, _worker_runner())
        write_clip(output, clip)
        return ExtractResult(str(video), str(output), "ok", clip.num_frames, time.perf_counter() - start,
                             worker=_worker_name())
    except GspmcError as err:
        return ExtractResult(str(video), str(output), "error", 0, time.perf_counter() - start, str(err),
                             worker=_worker_name())
    except Exception as err:  # a decoder / MediaPipe failure on one file must not stop the batch
        msg = f"{video}: {type(err).__name__}: {err}"
        return ExtractResult(str(video), str(output), "error", 0, time.perf_counter() - start, msg,
                             worker=_worker_name())


# --- driver -------------------------------------------------------------------------------------
ENGINES = ("process", "ray")


def extract_many(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    fmt: str = "pose",
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    engine: str = "process",
    address: str | None = None,
) -> ExtractReport:
    """Extract every video in ``inputs`` into ``out_dir``; write and return the report.

    Args:
        inputs: video files and/or folders.
        out_dir: where keypoint files and ``extract_report.json`` go.
        fmt: ``pose`` or ``npz``.
        workers: worker processes (>= 1); each loads its own MediaPipe graph. With ``engine="ray"``
            and no ``address``: the local Ray instance's CPUs.
        progress: show a tqdm bar (one tick per video).
        overwrite: re-extract videos whose output already exists (default: skip them).
        engine: ``process`` or ``ray`` (module docstring).
        address: a Ray cluster to use (``engine="ray"`` only); None starts a local one.
    """
    from tqdm import tqdm

    if fmt not in FORMATS:
        raise GspmcError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    if workers < 1:
        raise GspmcError(f"--workers must be >= 1, got {workers}")
    if engine not in ENGINES:
        raise GspmcError(f"unknown --engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if address and engine != "ray":
        raise GspmcError("--address is the Ray cluster to run on: it needs --engine ray")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir, recursive=True)
    todo: list[tuple[Path, Path]] = []
    report = ExtractReport()
    for video, stem in find_videos(inputs):
        output = out_dir / stem.with_suffix(f".{fmt}")
        if output.exists() and not overwrite:
            report.results.append(ExtractResult(str(video), str(output), "skipped"))
        else:
            todo.append((video, output))

    bar = tqdm(total=len(todo), disable=not progress, desc="extract", unit="video")

    def done(result: ExtractResult) -> None:
        report.results.append(result)
        bar.update(1)

    try:
        if engine == "ray" and todo:
            _run_ray(todo, workers, address, done)
        elif workers == 1 or len(todo) <= 1:
            for video, output in todo:
                done(extract_one(video, output))
        else:
            ctx = get_context("spawn")  # fresh interpreters: no MediaPipe/torch state copied by fork
            with ProcessPoolExecutor(
                max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_quiet_native_logs
            ) as pool:
                futures = [pool.submit(extract_one, video, output) for video, output in todo]
                for fut in as_completed(futures):
                    done(fut.result())
    finally:
        bar.close()
        report.results.sort(key=lambda r: r.output)
        write_report(out_dir / REPORT_NAME, report)
    return report


def _run_ray(todo: list[tuple[Path, Path]], workers: int, address: str | None,
             done: Callable[[ExtractResult], None]) -> None:
    """:func:`extract_one` on every (video, output) as Ray tasks; ``done`` gets each result as it comes."""
    try:
        import ray
    except ImportError:
        raise GspmcError("--engine ray needs the ray package: pip install 'gspmc[ray]'") from None
    quiet = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = not ray.is_initialized()
    if started:
        common = {"include_dashboard": False, "log_to_driver": False, "runtime_env": {"env_vars": quiet}}
        try:
            if address:
                ray.init(address=address, **common)
            else:
                ray.init(num_cpus=workers, **common)
        except Exception as err:  # a wrong address, a cluster that is down, ...
            raise GspmcError(f"cannot start Ray{f' at {address}' if address else ''}: {type(err).__name__}: "
                             f"{err}") from None
    try:
        task = ray.remote(num_cpus=1)(extract_one)  # the same per-video function as the process engine
        jobs = {task.remote(str(video), str(output)): (video, output) for video, output in todo}
        pending = list(jobs)
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                try:
                    done(ray.get(ref))
                except Exception as err:  # the worker process died (extract_one itself never raises)
                    video, output = jobs[ref]
                    done(ExtractResult(str(video), str(output), "error", 0, 0.0,
                                       f"{video}: the Ray task failed: {type(err).__name__}: {err}"))
    finally:
        if started:
            ray.shutdown()


def write_report(path: Path, report: ExtractReport) -> None:
    text = json.dumps(report.to_json(), indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
