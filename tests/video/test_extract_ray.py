"""`gspmc extract --engine ray`: the same per-video function as Ray tasks on a local Ray of 2 workers, on the
shared videos: the same outputs and report as the process engine, per-file errors, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gspmc.cli import main
from gspmc.errors import GspmcError
from gspmc.video.extract import REPORT_NAME, extract_many
from gspmc.video.posefile import read_pose

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]
ray = pytest.importorskip("ray")


def test_ray_engine_extracts_reports_and_resumes(shared_data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    videos = tmp_path / "in"
    (videos / "abdomen").mkdir(parents=True)
    for vid in ("00335", "00339"):
        (videos / "abdomen" / f"wlasl_{vid}.mp4").symlink_to(shared_data / "videos" / f"wlasl_{vid}.mp4")
    (videos / "broken.mp4").write_text("this is not a video\n")
    out = tmp_path / "ray"
    assert main(["extract", str(videos), "--out", str(out), "--engine", "ray", "--workers", "2",
                 "--no-progress"]) == 1  # one video failed
    assert "failed:" in capsys.readouterr().err
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["counts"] == {"ok": 2, "skipped": 0, "error": 1}
    by_name = {Path(f["video"]).name: f for f in report["files"]}
    assert "broken.mp4" in by_name["broken.mp4"]["error"]
    workers = {f["worker"] for f in report["files"]}
    assert all(w.rsplit(":", 1)[1].isdigit() for w in workers)  # each file names its Ray worker process

    # the same function as the process engine: identical keypoints
    local = extract_many([videos / "abdomen" / "wlasl_00339.mp4"], tmp_path / "local", progress=False)
    assert local.counts()["ok"] == 1
    a, b = read_pose(out / "abdomen" / "wlasl_00339.pose"), read_pose(tmp_path / "local" / "wlasl_00339.pose")
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.confidence, b.confidence)

    # resume: finished files are skipped, the bad one is tried again
    again = extract_many([videos], out, engine="ray", workers=2, progress=False)
    assert again.counts() == {"ok": 0, "skipped": 2, "error": 1}


def test_ray_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(GspmcError, match="--address is the Ray cluster to run on: it needs --engine ray"):
        extract_many([tmp_path], tmp_path / "o", address="ray://nowhere:10001")
    with pytest.raises(GspmcError, match="unknown --engine 'spark'"):
        extract_many([tmp_path], tmp_path / "o", engine="spark")
