"""pose-format .pose files (MediaPipe Holistic, 543 points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gspmc.data.readers.posefile import read_pose_file, read_pose_folder
from gspmc.errors import DataError

pose_format = pytest.importorskip("pose_format")


def _write_pose(path: Path, values: np.ndarray, conf: np.ndarray, extra_world: bool = False,
                drop: str | None = None) -> Path:
    """values (T, 543, 3), conf (T, 543) -> a holistic .pose with one person (masked where conf == 0)."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    spec = [("POSE_LANDMARKS", 33), ("FACE_LANDMARKS", 468), ("LEFT_HAND_LANDMARKS", 21), ("RIGHT_HAND_LANDMARKS", 21)]
    if extra_world:  # an extra component first: the reader must pick components by name
        spec.insert(0, ("POSE_WORLD_LANDMARKS", 33))
        values = np.concatenate([np.full((len(values), 33, 3), 9.0, np.float32), values], axis=1)
        conf = np.concatenate([np.ones((len(conf), 33), np.float32), conf], axis=1)
    if drop is not None:
        keep = np.ones(values.shape[1], bool)
        start = 0
        for name, n in spec:
            if name == drop:
                keep[start : start + n] = False
            start += n
        spec = [s for s in spec if s[0] != drop]
        values, conf = values[:, keep], conf[:, keep]
    comps = [PoseHeaderComponent(name, [f"p{i}" for i in range(n)], [], [], "XYZC") for name, n in spec]
    header = PoseHeader(0.1, PoseHeaderDimensions(512, 512, 512), comps)
    data = values[:, None].astype(np.float32)  # (T, 1, V, 3)
    mask = np.repeat((conf == 0)[:, None, :, None], 3, axis=-1)  # (T, 1, V, 3)
    body = NumPyPoseBody(25, np.ma.masked_array(data, mask=mask), conf[:, None].astype(np.float32))
    with path.open("wb") as fh:
        Pose(header, body).write(fh)
    return path


def _clip(t: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 512, (t, 543, 3)).astype(np.float32)
    conf = rng.uniform(0.5, 1, (t, 543)).astype(np.float32)
    conf[1, 501:522] = 0  # left hand missing in frame 1
    return values, conf


def test_written_pose_roundtrip(tmp_path: Path) -> None:
    values, conf = _clip()
    p = _write_pose(tmp_path / "clip.pose", values, conf, extra_world=True)
    s = read_pose_file(p, label=2)
    assert s.layout == "mediapipe-holistic-543" and s.id == "clip" and s.label == 2
    assert s.coords.shape == (4, 543, 3)
    assert not s.mask[1, 501:522].any() and s.mask.sum() == 4 * 543 - 21
    np.testing.assert_allclose(s.coords[0], values[0], rtol=1e-6)
    assert (s.coords[1, 501:522] == 0).all()
    np.testing.assert_allclose(s.score[0], conf[0], rtol=1e-6)


def test_pose_folder(tmp_path: Path) -> None:
    values, conf = _clip()
    (tmp_path / "d" / "x").mkdir(parents=True)
    _write_pose(tmp_path / "d" / "a.pose", values, conf)
    _write_pose(tmp_path / "d" / "x" / "b.pose", values[:2], conf[:2])
    cs = read_pose_folder(tmp_path / "d", progress=False)
    assert cs.ids() == ["a", "x/b"] and cs.labels().tolist() == [-1, -1] and cs.classes == []
    labels = tmp_path / "l.csv"
    labels.write_text("b,hello\na,bye\n")
    cs = read_pose_folder(tmp_path / "d", labels, progress=False)
    assert cs.ids() == ["b", "a"] and cs.labels().tolist() == [1, 0] and cs[0].num_frames == 2
    labels.write_text("zz,hello\n")
    with pytest.raises(DataError, match="clip 'zz': no file zz.pose"):
        read_pose_folder(tmp_path / "d", labels, progress=False)


def test_bad_pose_files(tmp_path: Path) -> None:
    values, conf = _clip()
    good = _write_pose(tmp_path / "good.pose", values, conf)
    cut = tmp_path / "cut.pose"
    cut.write_bytes(good.read_bytes()[:3000])
    junk = tmp_path / "junk.pose"
    junk.write_bytes(b"\x00\x01garbage")
    for p in (cut, junk, tmp_path / "missing.pose"):
        with pytest.raises(DataError) as err:
            read_pose_file(p)
        assert str(err.value).startswith(str(p))
    no_hand = _write_pose(tmp_path / "nohand.pose", values, conf, drop="RIGHT_HAND_LANDMARKS")
    with pytest.raises(DataError, match=r"missing component\(s\) \['RIGHT_HAND_LANDMARKS'\]"):
        read_pose_file(no_hand)


@pytest.mark.shared_data
def test_shared_autsl_pose(shared_data: Path) -> None:
    s = read_pose_file(shared_data / "videos" / "autsl_signer0_sample1000_holistic.pose")
    assert s.coords.shape == (43, 543, 3) and s.layout == "mediapipe-holistic-543"
    # MediaPipe found the left hand in 40 of 43 frames: the other 3 are masked, never zeros
    left = s.mask[:, 501:522]
    assert left.all(1).sum() == 40 and (~left).all(1).sum() == 3
    assert (s.coords[~s.mask] == 0).all() and s.mask[:, :33].all()
    nose, l_sh, r_sh = s.coords[:, 0, :2], s.coords[:, 11, :2], s.coords[:, 12, :2]  # pixels, 512 x 512
    assert ((nose > 0) & (nose < 512)).all() and (l_sh[:, 1] > nose[:, 1]).all()
    assert (l_sh[:, 0] > r_sh[:, 0]).all()  # a signer facing the camera: their left is image right
    from pose_format import Pose

    raw = Pose.read((shared_data / "videos" / "autsl_signer0_sample1000_holistic.pose").read_bytes()).body.data
    np.testing.assert_array_equal(s.coords[s.mask], np.ma.getdata(raw)[:, 0, :, :3][s.mask])


def test_pose_folder_classes_from_folders(tmp_path: Path) -> None:
    """<session>/<class>/<clip>.pose: the default pattern gives label, session; a given one may name a signer."""
    values, conf = _clip()
    for rel in ("s1/hello/a", "s1/bye/b", "s2/hello/c"):
        (tmp_path / "d" / rel).parent.mkdir(parents=True, exist_ok=True)
        _write_pose(tmp_path / "d" / f"{rel}.pose", values, conf)
    cs = read_pose_folder(tmp_path / "d", progress=False)
    assert cs.classes == ["bye", "hello"] and cs.ids() == ["s1/bye/b", "s1/hello/a", "s2/hello/c"]
    assert cs.labels().tolist() == [0, 1, 1] and cs.meta["session"].tolist() == ["s1", "s1", "s2"]
    by_signer = read_pose_folder(tmp_path / "d", progress=False, pattern="{signer}/{class}/{clip}")
    assert [s.signer for s in by_signer.samples] == ["s1", "s1", "s2"] and by_signer.meta == {}
    with pytest.raises(DataError, match=r"label 'bye' is not in the class list"):
        read_pose_folder(tmp_path / "d", progress=False, classes=["hello"])
