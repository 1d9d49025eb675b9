"""The MP_Data folder-tree reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_builders import mp_frame, write_npz, write_tree

from gspmc.data.readers.mp_data import read_mp_data, read_mp_data_arrays, scan_mp_data
from gspmc.data.readers.npz import read_mp_npz
from gspmc.errors import DataError


def _tree(root: Path, rng: np.random.Generator) -> dict:
    clips = {
        ("tea", "0"): np.stack([mp_frame(rng) for _ in range(12)]),  # frames 0..11: 10 sorts after 9
        ("tea", "10"): np.stack([mp_frame(rng, left=False) for _ in range(3)]),
        ("tea", "2"): np.stack([mp_frame(rng) for _ in range(4)]),
        ("-", "0"): np.zeros((5, 258), np.float32),
    }
    write_tree(root, clips)
    return clips


def test_tree_reads_in_order(tmp_path: Path) -> None:
    clips = _tree(tmp_path / "MP_Data", np.random.default_rng(0))
    cs = read_mp_data(tmp_path / "MP_Data", signers={"MP_Data/tea/2": "ann"}, progress=False)
    assert cs.classes == ["-", "tea"] and cs.layout == "mp-data-258" and cs.name == "MP_Data"
    assert cs.ids() == ["MP_Data/-/0", "MP_Data/tea/0", "MP_Data/tea/10", "MP_Data/tea/2"]
    assert cs.labels().tolist() == [0, 1, 1, 1]
    assert [s.num_frames for s in cs.samples] == [5, 12, 3, 4]
    assert cs.signers().tolist() == [None, None, None, "ann"]
    # frame order is numeric: frame 10 of clip tea/0 is the 11th vector written
    np.testing.assert_array_equal(cs[1].coords[10, 0], clips[("tea", "0")][10, :3])
    assert not cs[2].mask[:, 33:54].any() and not cs[0].mask.any()


def test_tree_matches_packed_npz(tmp_path: Path) -> None:
    _tree(tmp_path / "MP_Data", np.random.default_rng(1))
    arrays = read_mp_data_arrays(tmp_path / "MP_Data", progress=False)
    assert arrays["keypoints"].shape == (4, 12, 258) and arrays["lengths"].tolist() == [5, 12, 3, 4]
    a = read_mp_data(tmp_path / "MP_Data", progress=False)
    b = read_mp_npz(write_npz(tmp_path / "p.npz", arrays))
    for sa, sb in zip(a.samples, b.samples, strict=True):
        np.testing.assert_array_equal(sa.coords, sb.coords)
        np.testing.assert_array_equal(sa.mask, sb.mask)


def test_given_class_list(tmp_path: Path) -> None:
    _tree(tmp_path / "MP_Data", np.random.default_rng(2))
    cs = read_mp_data(tmp_path / "MP_Data", classes=["tea", "-", "coffee"], progress=False)
    assert cs.classes == ["tea", "-", "coffee"] and cs.labels().tolist() == [0, 0, 0, 1]
    with pytest.raises(DataError, match=r"class folder\(s\) \['tea'\] are not in the class list"):
        read_mp_data(tmp_path / "MP_Data", classes=["-"], progress=False)


def test_bad_trees(tmp_path: Path) -> None:
    root = tmp_path / "MP_Data"
    with pytest.raises(DataError, match="MP_Data folder not found"):
        scan_mp_data(root)
    root.mkdir()
    with pytest.raises(DataError, match="no class folders"):
        scan_mp_data(root)
    (root / "a" / "0").mkdir(parents=True)
    with pytest.raises(DataError, match="no <frame>.npy") as err:
        scan_mp_data(root)
    assert str(root / "a" / "0") in str(err.value)
    np.save(root / "a" / "0" / "x.npy", np.zeros(258))
    with pytest.raises(DataError, match="not an integer frame number") as err:
        scan_mp_data(root)
    assert "x.npy" in str(err.value)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (np.zeros(100), "258 or 1662"),
        (np.zeros((2, 258)), "258 or 1662"),
        (b"truncated", "corrupt or truncated"),
        (np.array(["a"] * 258), "numeric"),
        ("half", "corrupt or truncated"),
        (np.array([{"a": 1}], dtype=object), "pickled objects, which are refused"),
    ],
)
def test_bad_frames(tmp_path: Path, content: object, needle: str) -> None:
    root = tmp_path / "MP_Data"
    write_tree(root, {("a", "0"): np.ones((2, 258), np.float32)})
    bad = root / "a" / "0" / "1.npy"
    if isinstance(content, bytes):
        bad.write_bytes(np.lib.format.MAGIC_PREFIX + content)
    elif isinstance(content, str):  # a valid frame cut in half
        np.save(bad, np.ones(258, np.float32))
        bad.write_bytes(bad.read_bytes()[:600])
    else:
        np.save(bad, content)
    with pytest.raises(DataError, match=needle) as err:
        read_mp_data(root, progress=False)
    assert str(err.value).startswith(str(bad))


def test_mixed_widths_and_nan(tmp_path: Path) -> None:
    root = tmp_path / "MP_Data"
    write_tree(root, {("a", "0"): np.ones((2, 258), np.float32), ("a", "1"): np.ones((2, 1662), np.float32)})
    with pytest.raises(DataError, match="1662 values but earlier frames have 258"):
        read_mp_data(root, progress=False)
    root2 = tmp_path / "t2" / "MP_Data"
    write_tree(root2, {("a", "0"): np.full((2, 258), np.nan, np.float32)})
    with pytest.raises(DataError, match="clip 'MP_Data/a/0': every joint is NaN/inf") as err:
        read_mp_data(root2, progress=False)
    assert str(err.value).startswith(str(root2))
