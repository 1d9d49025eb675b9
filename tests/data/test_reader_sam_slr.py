"""SAM-SLR training arrays (N, C, T, V, M) and their label files (pickle only with the opt-in)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from gspmc.data.readers.sam_slr import read_sam_slr
from gspmc.errors import DataError


def _arrays(tmp_path: Path, n: int = 3, t: int = 6, m: int = 1) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    data = np.zeros((n, 3, t, 27, m), np.float32)  # (N, C, T, V, M)
    lengths = [6, 4, 2][:n] + [6] * max(0, n - 3)
    for i, length in enumerate(lengths):
        data[i, :2, :length] = rng.uniform(-1, 1, (2, length, 27, m))
        data[i, 2, :length] = rng.uniform(0.5, 1, (length, 27, m))
    data[0, 2, 1, 9, 0] = 0.0  # clip 0, frame 1, joint 9 (left_index_mcp): not detected
    p = tmp_path / "train_data_joint.npy"
    np.save(p, data)
    return p, data


def _pickle(tmp_path: Path, names: list[str], labels: list[int]) -> Path:
    p = tmp_path / "train_label.pkl"
    with p.open("wb") as fh:
        pickle.dump((names, labels), fh)
    return p


def test_pickle_needs_opt_in(tmp_path: Path) -> None:
    data_path, _ = _arrays(tmp_path)
    labels = _pickle(tmp_path, ["v0", "v1", "v2"], [2, 0, 1])
    with pytest.raises(DataError, match="is a pickle; pickles are code") as err:
        read_sam_slr(data_path, labels)
    assert str(labels) in str(err.value) and "allow_pickle=True" in str(err.value)
    # also when the pickle hides behind another suffix (detected by its first byte)
    disguised = tmp_path / "labels.csv"
    disguised.write_bytes(labels.read_bytes())
    with pytest.raises(DataError, match="is a pickle"):
        read_sam_slr(data_path, disguised)
    cs = read_sam_slr(data_path, labels, allow_pickle=True)
    assert cs.ids() == ["v0", "v1", "v2"] and cs.labels().tolist() == [2, 0, 1] and cs.classes == ["0", "1", "2"]


def test_values_trim_and_mask(tmp_path: Path) -> None:
    data_path, data = _arrays(tmp_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"names": ["v0", "v1", "v2"], "labels": [2, 0, 1]}))
    cs = read_sam_slr(data_path, labels, classes=["a", "b", "c"])
    assert cs.layout == "sam-slr-27" and [s.num_frames for s in cs.samples] == [6, 4, 2]
    s0 = cs[0]
    np.testing.assert_array_equal(s0.coords, data[0, :2, :, :, 0].transpose(1, 2, 0) * s0.mask[..., None])
    assert not s0.mask[1, 9] and s0.mask.sum() == 6 * 27 - 1
    np.testing.assert_array_equal(s0.score[0], data[0, 2, 0, :, 0])
    cs_hi = read_sam_slr(data_path, labels, score_threshold=0.75)
    expected = data[1, 2, :4, :, 0] > 0.75
    np.testing.assert_array_equal(cs_hi[1].mask, expected)


def test_csv_labels_and_mirroring(tmp_path: Path) -> None:
    data_path, data = _arrays(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nv0,b\nv1,a\nv2,b\n")
    plain = read_sam_slr(data_path, labels)
    assert plain.classes == ["a", "b"] and plain.labels().tolist() == [1, 0, 1]
    mirrored = read_sam_slr(data_path, labels, mirrored=True)
    a, b = plain[1], mirrored[1]
    # joint 1 (left_shoulder) of the mirrored clip is joint 2 (right_shoulder) of the raw one, x negated
    np.testing.assert_allclose(b.coords[:, 1, 0], -a.coords[:, 2, 0])
    np.testing.assert_allclose(b.coords[:, 1, 1], a.coords[:, 2, 1])
    # left hand (7..16) <-> right hand (17..26)
    np.testing.assert_allclose(b.coords[:, 7], a.coords[:, 17] * [-1, 1])
    np.testing.assert_array_equal(b.score[:, 17], a.score[:, 7])
    # joint 9 unobserved in clip 0 frame 1 becomes joint 19 after the swap
    assert not mirrored[0].mask[1, 19] and mirrored[0].mask[1, 9]


def test_two_channels_and_persons(tmp_path: Path) -> None:
    data = np.zeros((1, 2, 3, 27, 2), np.float32)
    data[0, :, :, :, 1] = 1.0  # only person 1 is there
    p = tmp_path / "d.npy"
    np.save(p, data)
    labels = tmp_path / "l.csv"
    labels.write_text("x,0\n")
    with pytest.raises(DataError, match="has no frames: all zeros"):
        read_sam_slr(p, labels)
    cs = read_sam_slr(p, labels, person=1)
    assert cs[0].score is None and cs[0].mask.all() and cs[0].num_frames == 3
    with pytest.raises(DataError, match="person=2 does not exist"):
        read_sam_slr(p, labels, person=2)


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("count", "has 2 labels for 3 clips"),
        ("outside", "clip 'v2': label 5 is outside the class list"),
        ("unknown_name", "clip 'v1': label 'zebra' is not in the class list"),
        ("dupe", "not unique"),
        ("bad_json", "invalid JSON"),
        ("bad_pickle", "corrupt or truncated label pickle"),
        ("missing", "label file not found"),
    ],
)
def test_bad_labels(tmp_path: Path, case: str, needle: str) -> None:
    data_path, _ = _arrays(tmp_path)
    labels = tmp_path / "labels.csv"
    content = {
        "count": "v0,0\nv1,1\n",
        "outside": "v0,0\nv1,1\nv2,5\n",
        "unknown_name": "v0,0\nv1,zebra\nv2,1\n",
        "dupe": "v0,0\nv0,1\nv2,1\n",
    }
    classes = ["a", "b"] if case in ("outside", "unknown_name") else None
    if case in content:
        labels.write_text(content[case])
    elif case == "bad_json":
        labels = tmp_path / "labels.json"
        labels.write_text("{not json")
    elif case == "bad_pickle":
        labels = tmp_path / "labels.pkl"
        labels.write_bytes(pickle.dumps((["v0"], [0]))[:7])
    else:
        labels = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=needle) as err:
        read_sam_slr(data_path, labels, classes=classes, allow_pickle=True)
    assert str(err.value).startswith(str(labels))


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((2, 3, 4, 27)), r"expected shape \(N, C=2\|3, T, V, M\)"),
        (np.zeros((2, 4, 4, 27, 1)), r"expected shape \(N, C=2\|3, T, V, M\)"),
        (np.zeros((2, 3, 4, 26, 1), np.float32), "has 26 points per frame but layout 'sam-slr-27' has 27"),
        (np.zeros((2, 3, 4, 27, 1), np.int32), "floating point"),
        ("truncated", "corrupt or truncated"),
    ],
)
def test_bad_arrays(tmp_path: Path, array: object, needle: str) -> None:
    p = tmp_path / "d.npy"
    if isinstance(array, str):
        np.save(p, np.ones((2, 3, 4, 27, 1), np.float32))
        p.write_bytes(p.read_bytes()[:500])
    else:
        np.save(p, array)
    labels = tmp_path / "l.csv"
    labels.write_text("a,0\nb,0\n")
    with pytest.raises(DataError, match=needle) as err:
        read_sam_slr(p, labels)
    assert str(err.value).startswith(str(p))


def test_nan_repair(tmp_path: Path) -> None:
    data_path, data = _arrays(tmp_path)
    data[1, 0, 2, 5, 0] = np.nan
    data[2, :2] = np.inf  # clip 2: every coordinate infinite -> nothing left
    np.save(data_path, data)
    labels = tmp_path / "l.csv"
    labels.write_text("v0,0\nv1,0\nv2,0\n")
    with pytest.raises(DataError, match="clip 'v2': every joint is NaN/inf"):
        read_sam_slr(data_path, labels)
    data[2, :2] = 0.5
    np.save(data_path, data)
    cs = read_sam_slr(data_path, labels)
    assert not cs[1].mask[2, 5] and cs[1].mask.sum() == 4 * 27 - 1 and cs[1].score[2, 5] == 0
