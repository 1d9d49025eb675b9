"""The packed MP_Data npz reader (traduttore_asl33.npz format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_builders import write_npz

from gspmc.data.readers.npz import read_mp_npz
from gspmc.errors import DataError


def test_values_and_masks(tmp_path: Path, npz_arrays: dict) -> None:
    p = write_npz(tmp_path / "x.npz", npz_arrays)
    cs = read_mp_npz(p)
    assert cs.layout == "mp-data-258" and cs.name == "x" and len(cs) == 6
    assert cs.classes == ["coffee", "tea", "-"]
    assert cs.labels().tolist() == [0, 1, 2, 0, 1, 2]
    assert cs.signers().tolist() == ["ann", "bob"] * 3
    assert cs.meta["session"].tolist() == ["MP_Data"] * 6
    kp = npz_arrays["keypoints"].astype(np.float32)
    s0 = cs[0]
    # pose joint j = kp[4j : 4j+3], visibility kp[4j+3]; left hand joint k = kp[132 + 3k : ...]
    np.testing.assert_array_equal(s0.coords[:, 5], kp[0, :, 20:23])
    np.testing.assert_array_equal(s0.score[:, 5], kp[0, :, 23])
    np.testing.assert_array_equal(s0.coords[:, 33 + 2], kp[0, :, 138:141])
    np.testing.assert_array_equal(s0.coords[:, 54 + 20], kp[0, :, 255:258])
    assert s0.mask.all()
    # clip 1 has no left hand: masked, coordinates 0, score 0; the rest observed
    s1 = cs[1]
    assert not s1.mask[:, 33:54].any() and s1.mask[:, :33].all() and s1.mask[:, 54:].all()
    assert (s1.coords[:, 33:54] == 0).all() and (s1.score[:, 33:54] == 0).all()
    # clip 2 is cut to its length
    assert cs[2].num_frames == 3 and cs[0].num_frames == 5


def test_nan_joints_are_masked(tmp_path: Path, npz_arrays: dict) -> None:
    kp = npz_arrays["keypoints"]
    kp[0, 1, 132 + 3 * 4 + 1] = np.nan  # left-hand joint 4, frame 1: y is NaN
    kp[3, 0, 8] = np.inf  # pose joint 2, frame 0: x is inf
    cs = read_mp_npz(write_npz(tmp_path / "x.npz", npz_arrays))
    s0, s3 = cs[0], cs[3]
    assert not s0.mask[1, 33 + 4] and s0.coords[1, 33 + 4].tolist() == [0, 0, 0]
    assert s0.mask.sum() == s0.mask.size - 1  # nothing else touched
    assert not s3.mask[0, 2] and s3.mask.sum() == s3.mask.size - 1
    assert np.isfinite(s0.coords).all() and np.isfinite(s3.coords).all()


def test_clip_left_empty_by_nan_is_an_error(tmp_path: Path, npz_arrays: dict) -> None:
    npz_arrays["keypoints"][4] = np.nan
    p = write_npz(tmp_path / "x.npz", npz_arrays)
    with pytest.raises(DataError, match=r"x\.npz: clip 'MP_Data/c/4': every joint is NaN/inf"):
        read_mp_npz(p)


def test_all_zero_clip_is_kept_unobserved(tmp_path: Path, npz_arrays: dict) -> None:
    npz_arrays["keypoints"][5] = 0  # nobody in view (traduttore's idle clips)
    cs = read_mp_npz(write_npz(tmp_path / "x.npz", npz_arrays))
    assert not cs[5].mask.any() and (cs[5].coords == 0).all()


def test_padding_nan_is_ignored(tmp_path: Path, npz_arrays: dict) -> None:
    npz_arrays["keypoints"][2, 3:] = np.nan  # past lengths[2] = 3
    cs = read_mp_npz(write_npz(tmp_path / "x.npz", npz_arrays))
    assert cs[2].mask.all() and cs[2].num_frames == 3


def test_defaults_without_optional_keys(tmp_path: Path, npz_arrays: dict) -> None:
    arrays = {k: npz_arrays[k] for k in ("keypoints", "labels", "classes")}
    cs = read_mp_npz(write_npz(tmp_path / "x.npz", arrays), name="toy")
    assert cs.ids()[:2] == ["clip0", "clip1"] and cs.signers()[0] is None and cs.meta == {}
    assert cs.name == "toy" and cs[2].num_frames == 5


def test_1662_vectors(tmp_path: Path) -> None:
    from data_builders import mp_frame

    rng = np.random.default_rng(1)
    kp = np.stack([np.stack([mp_frame(rng, right=False, face=True) for _ in range(4)]) for _ in range(2)])
    p = write_npz(tmp_path / "f.npz", {"keypoints": kp, "labels": np.array([0, 0]), "classes": np.array(["a"])})
    cs = read_mp_npz(p)
    assert cs.layout == "mp-data-1662" and cs[0].num_joints == 543
    np.testing.assert_array_equal(cs[0].coords[:, 33], kp[0, :, 132:135])  # first face point
    assert not cs[0].mask[:, 522:].any() and cs[0].mask[:, :522].all()


def _bad(arrays: dict, key: str, value: object) -> dict:
    out = dict(arrays)
    if value is None:
        out.pop(key)
    else:
        out[key] = value
    return out


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("keypoints", None, "missing key"),
        ("classes", None, "missing key"),
        ("keypoints", np.zeros((6, 5, 100), np.float16), "shape (N, T, 258|1662)"),
        ("keypoints", np.zeros((6, 5, 258), np.int16), "floating point"),
        ("labels", np.array([0, 1, 2, 3, 0, 1]), "clip 'MP_Data/c/3': label 3 is outside the class list"),
        ("labels", np.array([0, 1, 2]), "'labels' has shape"),
        ("labels", np.zeros(6, np.float32), "'labels' must be integers"),
        ("lengths", np.array([5, 5, 0, 5, 5, 5]), "'lengths' must be integers in 1..5"),
        ("lengths", np.array([5, 5, 6, 5, 5, 5]), "'lengths' must be integers in 1..5"),
        ("ids", np.array(["a"] * 6), "not unique"),
        ("classes", np.array([1, 2, 3]), "'classes' must be a 1-d string array"),
        ("signers", np.array(["a"]), "'signers' has shape"),
    ],
)
def test_bad_arrays(tmp_path: Path, npz_arrays: dict, key: str, value: object, needle: str) -> None:
    p = write_npz(tmp_path / "bad.npz", _bad(npz_arrays, key, value))
    with pytest.raises(DataError) as err:
        read_mp_npz(p)
    assert str(err.value).startswith(str(p)) and needle in str(err.value)


def test_bad_files(tmp_path: Path, npz_arrays: dict) -> None:
    good = write_npz(tmp_path / "good.npz", npz_arrays).read_bytes()
    cases = {
        "missing.npz": None,
        "truncated.npz": good[: len(good) // 2],
        "garbage.npz": b"this is not a zip file at all",
        "empty.npz": b"",
    }
    for name, content in cases.items():
        p = tmp_path / name
        if content is not None:
            p.write_bytes(content)
        with pytest.raises(DataError) as err:
            read_mp_npz(p)
        assert str(p) in str(err.value), name
    obj = dict(npz_arrays, ids=np.array([f"x{i}" for i in range(6)], dtype=object))
    p = tmp_path / "pickled.npz"
    np.savez(p, **obj)
    with pytest.raises(DataError, match="pickled object arrays, which are refused"):
        read_mp_npz(p)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(DataError, match="single .npy array"):
        read_mp_npz(single)


@pytest.mark.shared_data
def test_shared_traduttore(traduttore) -> None:
    cs = traduttore
    assert len(cs) == 4693 and len(cs.classes) == 33 and cs.layout == "mp-data-258"
    signers, counts = np.unique(cs.signers().astype(str), return_counts=True)
    assert dict(zip(signers.tolist(), counts.tolist(), strict=True)) == {"Alex": 420, "TheCamNelson": 1768, "dmohazab": 2505}
    mask = np.stack([s.mask for s in cs.samples])  # (N, 20, 75)
    left_absent = 1 - mask[..., 33:54].all(-1).mean()
    right_absent = 1 - mask[..., 54:].all(-1).mean()
    assert 0.55 < left_absent < 0.65 and 0.04 < right_absent < 0.09  # documented: ~60% / ~7%
    empty = [s for s in cs.samples if not s.mask.any()]
    assert len(empty) == 60 and {cs.classes[s.label] for s in empty} == {"-"}
