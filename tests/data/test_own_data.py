"""Your own recordings end to end: an MP_Data tree per session, read by path, split leave-one-session-out,
shown by `gspmc info PATH`, trained with configs/own-data.yaml, and every fold run by `gspmc grid --folds all`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_builders import write_session_trees

from gspmc.cli import main
from gspmc.data import get_protocol, load_dataset
from gspmc.errors import ConfigError, DataError

# a tiny model and a short schedule, so each run takes seconds on one CPU thread
FAST = ["model.channels=[8, 8]", "model.strides=[1, 2]", "optim.epochs=2", "optim.batch_size=8",
        "optim.milestones=[3]", "optim.warmup_epochs=1", "trainer.threads=1", "trainer.progress_bar=false",
        "trainer.accelerator=cpu", "trainer.precision=32-true", "augment=null"]


def _sets(*items: str) -> list[str]:
    out: list[str] = []
    for item in items:
        out += ["--set", item]
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session_trees(tmp_path_factory.mktemp("own") / "recordings")


def test_session_trees_are_read_with_their_sessions(recordings: Path) -> None:
    clips = load_dataset(recordings)
    assert len(clips) == 36 and clips.classes == ["hello", "thanks", "yes"] and clips.layout == "mp-data-258"
    assert clips.ids()[0] == "recordings/session1/hello/0"
    assert sorted(set(clips.meta["session"])) == ["session1", "session2", "session3"]
    assert {s.num_frames for s in clips.samples} == {30}
    # an explicit pattern may name the top level differently: here it is the signer
    by_signer = load_dataset(recordings, pattern="{signer}/{class}/{sequence}")
    assert sorted({s.signer for s in by_signer.samples}) == ["session1", "session2", "session3"]
    with pytest.raises(DataError, match=r"level\(s\) below the root, but the path pattern '\{class\}/\{clip\}' has 2"):
        load_dataset(recordings, pattern="{class}/{clip}")


def test_leave_one_session_out_folds(recordings: Path) -> None:
    clips = load_dataset(recordings)
    proto = get_protocol("leave-one-group-out", group="session")
    assert proto.fold_names(clips) == ["session1", "session2", "session3"]
    split = proto.split(clips, "session3", seed=0)
    sessions = clips.meta["session"]
    assert set(sessions[split.test]) == {"session3"} and len(split.test) == 12
    assert set(sessions[np.concatenate([split.train, split.val])]) == {"session1", "session2"}
    assert len(split.val) == 2 and len(split.train) == 22  # 10% of 24, by clip
    with pytest.raises(ConfigError, match="'session9' is not a fold.*session1, session2, session3"):
        proto.split(clips, "session9")
    with pytest.raises(ConfigError, match="has no per-clip 'camera'; it has: signer, session"):
        get_protocol("leave-one-group-out", group="camera").split(clips, "x")


def test_info_shows_classes_groups_frames_and_folds(recordings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(recordings)]) == 0
    out = capsys.readouterr().out
    assert "recordings: 36 clips, layout mp-data-258, 3 classes" in out
    assert "frames per clip: min 30, median 30, max 30 (input.window: auto would use 30)" in out
    assert "classes: hello 12, thanks 12, yes 12" in out
    assert "clips per session (3): session1 12, session2 12, session3 12" in out
    assert "folds of leave-one-group-out (group session):" in out
    assert "  session3: train 22 clips / 3 classes, val 2 clips / 2 classes, test 12 clips / 3 classes" in out
    assert main(["info", str(recordings), "--set", "data.protocol=group-kfold", "--set", "data.group=session",
                 "--set", "data.k=3"]) == 0
    out = capsys.readouterr().out
    assert "folds of group-kfold (group session):" in out and "  2: train" in out


def test_fit_one_session_with_the_template(recordings: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["fit", "--config", "own-data", "--out", str(out),
            *_sets(f"data.path={recordings}", "data.fold=session3", *FAST)]
    assert main(args) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["fold"] == "session3" and result["protocol"] == "leave-one-group-out"
    assert result["split_sizes"]["test"] == {"clips": 12, "classes": 3}
    saved = (out / "config.yaml").read_text()
    assert "window: 30" in saved and "window_from_data: false" in saved  # T came from the data
    # the same command resumes (the config resolves to the same window) instead of being refused
    assert main(args) == 0
    capsys.readouterr()
    # without a fold the error says which folds exist and how to run them all
    assert main(["fit", "--config", "own-data", "--out", str(tmp_path / "nofold"),
                 *_sets(f"data.path={recordings}", *FAST)]) == 2
    err = capsys.readouterr().err
    assert "choose the fold to hold out, one of session1, session2, session3" in err
    assert "gspmc grid --folds all" in err


@pytest.mark.slow
def test_grid_runs_every_fold(recordings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid"
    assert main(["grid", "--config", "own-data", "--folds", "all", "--seeds", "0", "--out", str(out),
                 *_sets(f"data.path={recordings}", *FAST)]) == 0
    lines = json.loads((out / "results.json").read_text())["lines"]
    folds = sorted({line["fold"] for line in lines})
    assert folds == ["session1", "session2", "session3"]
    for fold in folds:
        assert (out / "base" / fold / "joint" / "seed0" / "result.json").is_file()
    assert "session2" in capsys.readouterr().out
