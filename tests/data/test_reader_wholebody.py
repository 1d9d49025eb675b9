"""Per-video COCO-WholeBody (T, 133, 3) folders, AUTSL and SLR500."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gspmc.data.protocols import get_protocol
from gspmc.data.readers.wholebody import read_autsl, read_slr500, read_wholebody_folder, read_wholebody_npy
from gspmc.errors import ConfigError, DataError


def _clip(rng: np.random.Generator, t: int = 5) -> np.ndarray:
    arr = np.empty((t, 133, 3), np.float32)
    arr[..., :2] = rng.uniform(0, 512, (t, 133, 2))
    arr[..., 2] = rng.uniform(0.3, 1.0, (t, 133))
    return arr


def test_single_file_threshold(tmp_path: Path) -> None:
    arr = _clip(np.random.default_rng(0))
    arr[0, 100, 2] = 0.05  # left-hand point, low score
    arr[2, 120, 2] = 0.19
    p = tmp_path / "v.npy"
    np.save(p, arr)
    s = read_wholebody_npy(p, label=3, score_threshold=0.2)
    assert s.layout == "coco-wholebody-133" and s.id == "v" and s.label == 3 and s.coords.shape == (5, 133, 2)
    assert not s.mask[0, 100] and not s.mask[2, 120] and s.mask.sum() == 5 * 133 - 2
    np.testing.assert_array_equal(s.coords[1], arr[1, :, :2])
    assert s.coords[0, 100].tolist() == [0, 0] and s.score[0, 100] == 0
    s_low = read_wholebody_npy(p, score_threshold=0.1)
    assert s_low.mask[2, 120] and not s_low.mask[0, 100]


def test_mirrored(tmp_path: Path) -> None:
    arr = _clip(np.random.default_rng(1))
    p = tmp_path / "v.npy"
    np.save(p, arr)
    s = read_wholebody_npy(p, mirrored=True)
    np.testing.assert_allclose(s.coords[:, 5, 0], -arr[:, 6, 0])  # left_shoulder <- right_shoulder
    np.testing.assert_allclose(s.coords[:, 91], arr[:, 112, :2] * [-1, 1])  # left hand wrist <- right


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros((5, 133, 2)), r"expected shape \(T, 133, 3\)"),
        (np.zeros((5, 27, 3)), r"expected shape \(T, 133, 3\)"),
        (np.zeros((0, 133, 3)), "no frames"),
        (np.full((3, 133, 3), np.nan), "every joint is NaN/inf"),
    ],
)
def test_bad_single_files(tmp_path: Path, array: np.ndarray, needle: str) -> None:
    p = tmp_path / "v.npy"
    np.save(p, array)
    with pytest.raises(DataError, match=needle) as err:
        read_wholebody_npy(p)
    assert str(err.value).startswith(str(p))


def test_folder_with_labels_and_suffixes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    (tmp_path / "kp" / "sub").mkdir(parents=True)
    np.save(tmp_path / "kp" / "a_color.mp4.npy", _clip(rng))  # SAM-SLR's naming
    np.save(tmp_path / "kp" / "sub" / "b.npy", _clip(rng, 3))
    labels = tmp_path / "labels.csv"
    labels.write_text("b,hello\na,bye\n")
    cs = read_wholebody_folder(tmp_path / "kp", labels, progress=False)
    assert cs.ids() == ["b", "a"] and cs.classes == ["bye", "hello"] and cs.labels().tolist() == [1, 0]
    assert [s.num_frames for s in cs.samples] == [3, 5] and cs.signers().tolist() == [None, None]
    labels.write_text("b,hello\nc,bye\n")
    with pytest.raises(DataError, match="clip 'c': no keypoint file") as err:
        read_wholebody_folder(tmp_path / "kp", labels, progress=False)
    assert str(err.value).startswith(str(labels))
    labels.write_text("b,7\n")
    with pytest.raises(DataError, match="clip 'b': label 7 is outside the class list"):
        read_wholebody_folder(tmp_path / "kp", labels, classes=["x", "y"], progress=False)


def _autsl(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    kp = tmp_path / "autsl"
    kp.mkdir()
    rows = {"train": [("signer0_sample1", 0), ("signer0_sample2", 1), ("signer1_sample5", 1)],
            "val": [("signer7_sample3", 0)], "test": [("signer9_sample4", 2), ("signer9_sample9", 0)]}
    for split, items in rows.items():
        (tmp_path / f"{split}.csv").write_text("".join(f"{i},{lab}\n" for i, lab in items))
        for i, _ in items:
            np.save(kp / f"{i}_color.npy", _clip(rng))
    return kp


def test_autsl(tmp_path: Path) -> None:
    kp = _autsl(tmp_path)
    cs = read_autsl(kp, tmp_path / "train.csv", tmp_path / "val.csv", tmp_path / "test.csv", progress=False)
    assert cs.name == "autsl" and cs.classes == ["0", "1", "2"] and len(cs) == 6
    assert cs.meta["split"].tolist() == ["train"] * 3 + ["val"] + ["test"] * 2
    assert cs.signers().tolist() == ["signer0", "signer0", "signer1", "signer7", "signer9", "signer9"]
    split = get_protocol("autsl").split(cs, "official", seed=0)
    assert split.train.tolist() == [0, 1, 2] and split.val.tolist() == [3] and split.test.tolist() == [4, 5]
    assert "test        2 clips, 2 classes, signers: signer9" in split.describe()
    (tmp_path / "test.csv").write_text("signer0_sample1,0\n")
    with pytest.raises(DataError, match="listed in more than one of train/val/test"):
        read_autsl(kp, tmp_path / "train.csv", tmp_path / "val.csv", tmp_path / "test.csv", progress=False)


def test_slr500_signers_and_presets(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    root = tmp_path / "slr500"
    for cls in ("000", "001"):
        for signer in (1, 35, 36, 37, 50):
            (root / cls).mkdir(parents=True, exist_ok=True)
            np.save(root / cls / f"P{signer:02d}_s1_00_{int(cls)}_color.npy", _clip(rng, 2))
    cs = read_slr500(root, progress=False)
    assert len(cs) == 10 and cs.classes == ["0", "1"]
    assert cs.ids()[0] == "000/P01_s1_00_0_color" and cs.signers().tolist()[:5] == ["1", "35", "36", "37", "50"]
    assert cs.labels().tolist() == [0] * 5 + [1] * 5
    gsp = get_protocol("slr500").split(cs, "signers", seed=0)
    best = get_protocol("slr500-best").split(cs, "signers", seed=0)
    sig = cs.signers().astype(int)
    assert set(sig[np.r_[gsp.train, gsp.val]]) == {1, 35} and set(sig[gsp.test]) == {36, 37, 50}
    assert set(sig[np.r_[best.train, best.val]]) == {1, 35, 36} and set(sig[best.test]) == {37, 50}
    # a label file instead of folders; another naming scheme needs its own pattern
    labels = tmp_path / "labels.csv"
    labels.write_text("000/P01_s1_00_0_color,0\n")
    assert read_slr500(root, labels, progress=False).signers().tolist() == ["1"]
    with pytest.raises(DataError, match="cannot derive the signer"):
        read_slr500(root, labels, signer_pattern=r"signer(\d+)", progress=False)
    np.save(root / "loose.npy", _clip(rng, 2))
    with pytest.raises(DataError, match="named by its class number"):
        read_slr500(root, progress=False)


def test_slr500_protocol_needs_numeric_signers(tmp_path: Path) -> None:
    kp = _autsl(tmp_path)
    cs = read_autsl(kp, tmp_path / "train.csv", tmp_path / "val.csv", tmp_path / "test.csv", progress=False)
    with pytest.raises(ConfigError, match="needs numeric signers"):
        get_protocol("slr500").split(cs, "signers", 0)
