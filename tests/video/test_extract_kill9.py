"""`gspmc extract` killed with SIGKILL (a real process, real MediaPipe) keeps every finished keypoint file,
leaves no truncated one, and the same command then extracts only what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gspmc.faults import ENV
from gspmc.video.extract import REPORT_NAME
from gspmc.video.posefile import read_pose

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_sigkill_mid_write_loses_no_finished_video(shared_data: Path, tmp_path: Path) -> None:
    videos = tmp_path / "in"
    videos.mkdir()
    for name in ("a", "b"):  # extracted in this order (sorted by output name)
        (videos / f"{name}.mp4").symlink_to(shared_data / "videos" / ("wlasl_00335.mp4" if name == "a" else
                                                                       "wlasl_00338.mp4"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "gspmc.cli", "extract", str(videos), "--out", str(out), "--no-progress"]
    env = {**os.environ, ENV: "write:b.pose"}  # die with half of b.pose written
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == -9, done.stderr[-2000:]
    first = read_pose(out / "a.pose")  # the finished video: whole and readable
    assert first.num_frames > 0
    assert not (out / "b.pose").exists()  # no truncated output that a resume would skip as done
    partial = list(out.glob(".b.pose.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    mtime = (out / "a.pose").stat().st_mtime_ns

    env.pop(ENV)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["counts"] == {"ok": 1, "skipped": 1, "error": 0}
    assert (out / "a.pose").stat().st_mtime_ns == mtime  # not redone
    assert read_pose(out / "b.pose").num_frames > 0
    assert not list(out.glob(".*.tmp"))  # the killed run's temporary was removed
