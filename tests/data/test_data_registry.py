"""load_dataset: names, format guessing, the missing-data message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_builders import write_npz, write_tree

from gspmc.data import load_dataset
from gspmc.errors import ConfigError, DataError


def test_traduttore_missing_says_run_gspmc_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GSPMC_DATA", str(tmp_path / "nodata"))
    with pytest.raises(DataError, match="run `gspmc data`") as err:
        load_dataset("traduttore")
    assert str(tmp_path / "nodata" / "traduttore_asl33.npz") in str(err.value)


def test_traduttore_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, npz_arrays: dict) -> None:
    monkeypatch.setenv("GSPMC_DATA", str(tmp_path))
    write_npz(tmp_path / "traduttore_asl33.npz", npz_arrays)
    cs = load_dataset("traduttore")
    assert cs.name == "traduttore" and len(cs) == 6


def test_guessing(tmp_path: Path, npz_arrays: dict) -> None:
    assert len(load_dataset(write_npz(tmp_path / "a.npz", npz_arrays))) == 6
    write_tree(tmp_path / "MP_Data", {("a", "0"): np.ones((2, 258), np.float32)})
    assert load_dataset(tmp_path / "MP_Data", progress=False).layout == "mp-data-258"
    data = np.ones((1, 3, 2, 27, 1), np.float32)
    np.save(tmp_path / "d.npy", data)
    (tmp_path / "l.csv").write_text("v,0\n")
    assert load_dataset(tmp_path / "d.npy", labels=tmp_path / "l.csv").layout == "sam-slr-27"
    with pytest.raises(ConfigError, match="need their label file"):
        load_dataset(tmp_path / "d.npy")
    (tmp_path / "kp").mkdir()
    arr = np.ones((2, 133, 3), np.float32)
    np.save(tmp_path / "kp" / "v.npy", arr)
    assert load_dataset(tmp_path / "kp", labels=tmp_path / "l.csv", progress=False).layout == "coco-wholebody-133"
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(tmp_path / "nothing")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="pass format="):
        load_dataset(tmp_path / "x.txt")
    with pytest.raises(ConfigError, match="unknown dataset format"):
        load_dataset(tmp_path / "a.npz", format="hdf5")


@pytest.mark.shared_data
def test_shared_pose_by_path(shared_data: Path) -> None:
    cs = load_dataset(shared_data / "videos" / "autsl_signer0_sample1000_holistic.pose")
    assert len(cs) == 1 and cs.layout == "mediapipe-holistic-543" and cs[0].label == -1
