"""A folder of videos as a dataset: extracted once with real MediaPipe (cached), then read as .pose files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gspmc.data import load_dataset
from gspmc.errors import DataError

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_video_folder_is_extracted_once_and_read_by_class(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "myvideos"
    for cls, name, src in (("abdomen", "a1", "wlasl_00335.mp4"), ("abdomen", "a2", "wlasl_00336.mp4"),
                           ("other", "o1", "autsl_signer0_sample1000_color.mp4")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / f"{name}.mp4").symlink_to(shared_data / "videos" / src)
    keypoints = tmp_path / "kp"
    clips = load_dataset(root, keypoints=keypoints, progress=False)  # format guessed: videos
    assert clips.name == "myvideos" and clips.layout == "mediapipe-holistic-543"
    assert clips.classes == ["abdomen", "other"] and clips.labels().tolist() == [0, 0, 1]
    assert clips.ids() == ["abdomen/a1", "abdomen/a2", "other/o1"]
    assert clips[2].num_frames == 43  # the AUTSL clip's frames
    stamp = {p: p.stat().st_mtime_ns for p in keypoints.rglob("*.pose")}
    assert len(stamp) == 3

    again = load_dataset(root, keypoints=keypoints, progress=False)  # cached: nothing extracted again
    assert again.ids() == clips.ids()
    assert {p: p.stat().st_mtime_ns for p in keypoints.rglob("*.pose")} == stamp
    report = json.loads((keypoints / "extract_report.json").read_text())
    assert report["counts"] == {"ok": 0, "skipped": 3, "error": 0}

    (root / "other" / "broken.mp4").write_text("not a video\n")
    with pytest.raises(DataError, match="1 of 4 videos could not be read") as err:
        load_dataset(root, keypoints=keypoints, progress=False)
    assert "broken.mp4" in str(err.value) and "extract_report.json" in str(err.value)
    assert {p: p.stat().st_mtime_ns for p in keypoints.rglob("*.pose")} == stamp  # nothing lost


def test_folder_without_videos(tmp_path: Path) -> None:
    from gspmc.data.readers.videos import read_video_folder

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no videos"):
        read_video_folder(tmp_path)
