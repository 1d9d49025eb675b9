"""Training jobs: ``gspmc fit --config own-data`` in a background process whose state is on disk.

A job is its run folder ``FOLDER/runs/<name>/``: the files ``gspmc fit --out`` writes (``last.ckpt``
every epoch, ``logs/metrics.csv``, ``report_test.json``, ``result.json`` last) plus ``job.json``
(the command, the process id, what the user asked: start / stop) and ``job.log`` (the process output).
The state shown is derived from those files every time it is asked for, so a page reload or a server
restart loses nothing: a process that outlives the server is found again by its id (and checked to be
the same command), one that died leaves ``last.ckpt``, and *resume* runs the same command, which
``gspmc fit`` resumes from ``last.ckpt`` itself.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gspmc.apps.studio.project import Project, StudioError, safe_name
from gspmc.io import read_json, write_json

JOB_FILE = "job.json"
LOG_FILE = "job.log"
STATES = ("running", "stopping", "stopped", "failed", "done")


def fit_command(project: Project, run: Path, fold: str, epochs: int, sets: list[str]) -> list[str]:
    """The ``gspmc fit`` command line of a job (the same a user types)."""
    args = [sys.executable, "-c", "import sys; from gspmc.cli import main; sys.exit(main())", "fit",
            "--config", "own-data", "--set", f"data.path={project.keypoints}", "--set", f"data.fold={fold}",
            "--set", f"optim.epochs={int(epochs)}", "--out", str(run)]
    for s in sets:
        args += ["--set", s]
    return args


def _proc_alive(pid: int, run: Path) -> bool:
    """Process ``pid`` runs and is this job's ``gspmc fit`` (a reused pid is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:  # exited, not yet reaped
        return False
    return str(run).encode() in cmdline


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """Per-epoch rows of ``logs/metrics.csv``: epoch, loss (train), val_loss, val_top1."""
    path = run / "logs" / "metrics.csv"
    if not path.is_file():
        return []
    rows: dict[int, dict[str, Any]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                epoch = int(float(row.get("epoch") or ""))
            except ValueError:
                continue
            r = rows.setdefault(epoch, {"epoch": epoch})
            for key, name in (("train/loss_epoch", "loss"), ("val/loss", "val_loss"), ("val/top1", "val_top1"),
                              ("train/top1", "train_top1")):
                value = row.get(key)
                if value not in (None, ""):
                    v = float(value)
                    if math.isfinite(v):
                        r[name] = v
    return [rows[k] for k in sorted(rows)]


class Jobs:
    """Start, stop, resume and describe the training jobs of a project."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def run_dir(self, name: str) -> Path:
        return self.project.inside(self.project.runs / safe_name(name, "run name"))

    def names(self) -> list[str]:
        return sorted(p.name for p in self.project.runs.iterdir() if (p / JOB_FILE).is_file())

    def start(self, name: str, fold: str, epochs: int = 20, sets: list[str] | None = None) -> dict[str, Any]:
        run = self.run_dir(name)
        fold = safe_name(fold, "test session")
        if not 1 <= int(epochs) <= 1000:
            raise StudioError(f"epochs must be 1-1000, got {epochs}")
        with self._lock:
            if (run / JOB_FILE).is_file():
                raise StudioError(f"a run named {name!r} exists; resume it or choose another name", 409)
            run.mkdir(parents=True, exist_ok=True)
            job = {"name": run.name, "fold": fold, "epochs": int(epochs), "sets": list(sets or []),
                   "command": fit_command(self.project, run, fold, int(epochs), list(sets or [])),
                   "wanted": "run", "created": time.time()}
            self._launch(run, job)
        return self.state(name)

    def _launch(self, run: Path, job: dict[str, Any]) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        log = (run / LOG_FILE).open("ab")
        try:
            proc = subprocess.Popen(job["command"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.project.root, env=env, start_new_session=True)
        finally:
            log.close()
        self._procs[run.name] = proc
        job.update(pid=proc.pid, wanted="run", started=time.time())
        write_json(run / JOB_FILE, job)

    def _job(self, name: str) -> tuple[Path, dict[str, Any]]:
        run = self.run_dir(name)
        if not (run / JOB_FILE).is_file():
            raise StudioError(f"no training run {name!r}", 404)
        return run, read_json(run / JOB_FILE)

    def _alive(self, run: Path, job: dict[str, Any]) -> bool:
        proc = self._procs.get(run.name)
        if proc is not None and proc.poll() is not None:
            self._procs.pop(run.name, None)
            return False
        pid = job.get("pid")
        return bool(pid) and _proc_alive(int(pid), run)

    def stop(self, name: str) -> dict[str, Any]:
        """SIGTERM to the process group; ``last.ckpt`` of the last finished epoch stays for resume."""
        run, job = self._job(name)
        with self._lock:
            job["wanted"] = "stop"
            write_json(run / JOB_FILE, job)
            if self._alive(run, job):
                try:
                    os.killpg(int(job["pid"]), signal.SIGTERM)
                except ProcessLookupError:
                    pass
        return self.state(name)

    def resume(self, name: str) -> dict[str, Any]:
        """Run the job's command again: ``gspmc fit`` continues from ``last.ckpt``."""
        run, job = self._job(name)
        with self._lock:
            if self._alive(run, job):
                raise StudioError(f"run {name!r} is still running", 409)
            if (run / "result.json").is_file():
                raise StudioError(f"run {name!r} is complete", 409)
            self._launch(run, job)
        return self.state(name)

    def wait(self, name: str, timeout: float) -> bool:
        """Wait for a process this server started to end (tests, shutdown); True if it ended."""
        proc = self._procs.get(self.run_dir(name).name)
        if proc is None:
            return True
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def state(self, name: str) -> dict[str, Any]:
        run, job = self._job(name)
        metrics = read_metrics(run)
        alive = self._alive(run, job)
        if (run / "result.json").is_file():
            status = "done"
        elif alive:
            status = "stopping" if job.get("wanted") == "stop" else "running"
        elif job.get("wanted") == "stop":
            status = "stopped"
        else:
            status = "failed" if _log_has_error(run) else "stopped"
        return {"name": run.name, "fold": job["fold"], "epochs": job["epochs"], "status": status,
                "pid": job.get("pid"), "metrics": metrics, "epochs_done": len([m for m in metrics if "val_top1" in m]),
                "resumable": status in ("stopped", "failed") and (run / "last.ckpt").is_file(),
                "log_tail": _tail(run / LOG_FILE)}

    def shutdown(self) -> None:
        """Leave running jobs running (they outlive the server); reap the ones that ended."""
        for proc in list(self._procs.values()):
            proc.poll()


def _tail(path: Path, n: int = 1500) -> str:
    try:
        data = path.read_bytes()[-n:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace").replace("\r", "\n")


def _log_has_error(run: Path) -> bool:
    return "error:" in _tail(run / LOG_FILE, 4000)
