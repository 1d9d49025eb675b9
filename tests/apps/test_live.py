"""The live loop on a video file in headless mode: window/stride schedule and printed lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from gspmc.apps.live import run_live
from gspmc.errors import DataError
from gspmc.inference.predictor import Predictor


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """As `gspmc live` does (--threads 1): the model must not fight MediaPipe for the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.shared_data
def test_live_headless_on_a_video_file(shared_data: Path, tiny_checkpoint: Path, classes: list[str]) -> None:
    lines: list[str] = []
    predictor = Predictor.from_files([tiny_checkpoint])
    stats = run_live(predictor, video=shared_data / "videos/wlasl_00339.mp4", window=20, stride=5,
                     headless=True, emit=lines.append)
    assert stats.frames >= 55
    # first prediction when the window is full (frame 19), then every 5 frames
    assert stats.predictions == 1 + (stats.frames - 20) // 5
    assert [e.frame for e in stats.events] == list(range(19, stats.frames, 5))
    assert len(lines) == stats.predictions and lines[0].split()[:2] == ["frame", "19"]
    assert all(e.gloss in classes and 0 < e.prob <= 1 for e in stats.events)
    assert stats.fps > 0


@pytest.mark.shared_data
def test_live_stops_at_max_frames_and_reports_bad_sources(shared_data: Path, tiny_checkpoint: Path,
                                                          tmp_path: Path) -> None:
    predictor = Predictor.from_files([tiny_checkpoint])
    stats = run_live(predictor, video=shared_data / "videos/wlasl_00339.mp4", window=10, stride=100,
                     headless=True, max_frames=12, emit=lambda _: None)
    assert stats.frames == 12 and stats.predictions == 1  # window full at frame 9 only
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty.mp4"):
        run_live(predictor, video=empty, headless=True)
