"""Layouts: hand-checked conversions, mirror maps, trees, registry errors."""

from __future__ import annotations

import numpy as np
import pytest

import gspmc.pose.layouts as layouts_module
from gspmc.errors import ConfigError, DataError, GspmcError
from gspmc.pose.layouts import (
    GSPMC_87_COCO,
    MODEL_LAYOUTS,
    SAM_SLR_27_COCO,
    Layout,
    conversion_indices,
    convert,
    get_layout,
    list_layouts,
    register_layout,
    split_mp_data_vectors,
)

ALL = list_layouts()


def test_builtin_layout_sizes() -> None:
    sizes = {
        "coco-wholebody-133": 133, "mediapipe-holistic-543": 543, "mp-data-258": 75, "mp-data-1662": 543,
        "sam-slr-27": 27, "gspmc-87": 87, "gspmc-55": 55, "mediapipe-75": 75,
    }  # fmt: skip
    for name, v in sizes.items():
        assert get_layout(name).num_joints == v, name
    parts87 = {k: len(v) for k, v in get_layout("gspmc-87").parts.items()}
    assert parts87 == {"left_hand": 21, "right_hand": 21, "body": 15, "face": 20, "mouth": 10}
    parts55 = {k: len(v) for k, v in get_layout("gspmc-55").parts.items()}
    assert parts55 == {"left_hand": 21, "right_hand": 21, "body": 13}


def test_coco_names_hand_checked() -> None:
    coco = get_layout("coco-wholebody-133")
    assert coco.joints[0] == "nose" and coco.joints[5] == "left_shoulder" and coco.joints[10] == "right_wrist"
    assert coco.joints[17] == "left_big_toe" and coco.joints[22] == "right_heel"
    assert coco.joints[23] == "right_jaw_0" and coco.joints[23 + 8] == "chin" and coco.joints[23 + 16] == "left_jaw_0"
    assert coco.joints[23 + 36] == "right_eye_outer" and coco.joints[23 + 45] == "left_eye_outer"
    assert coco.joints[23 + 48] == "right_mouth_corner" and coco.joints[23 + 54] == "left_mouth_corner"
    assert coco.joints[91] == "left_hand_wrist" and coco.joints[95] == "left_thumb_tip"
    assert coco.joints[96] == "left_index_mcp" and coco.joints[111] == "left_pinky_tip"
    assert coco.joints[112] == "right_hand_wrist" and coco.joints[132] == "right_pinky_tip"


def test_mediapipe_order_matches_pose_format_components() -> None:
    mp = get_layout("mediapipe-holistic-543")
    assert mp.joints[0] == "nose" and mp.joints[2] == "left_eye" and mp.joints[9] == "left_mouth_corner"
    assert mp.joints[11] == "left_shoulder" and mp.joints[16] == "right_wrist" and mp.joints[32] == "right_foot_index"
    assert mp.joints[33] == "face_mesh_0" and mp.joints[33 + 467] == "face_mesh_467"
    assert mp.joints[501] == "left_hand_wrist" and mp.joints[522] == "right_hand_wrist"
    assert mp.joints[542] == "right_pinky_tip"
    assert get_layout("mp-data-1662").joints == mp.joints
    assert get_layout("mp-data-258").joints == get_layout("mediapipe-75").joints


def test_mediapipe_names_agree_with_mediapipe_enums() -> None:
    holistic = pytest.importorskip("mediapipe").solutions.holistic
    mp = get_layout("mediapipe-75")
    for i, n in enumerate(holistic.PoseLandmark._member_names_):
        ours = mp.joints[i]
        expect = n.lower().replace("mouth_left", "left_mouth_corner").replace("mouth_right", "right_mouth_corner")
        for k in ("pinky", "index", "thumb"):
            if expect.endswith("_" + k) and "foot" not in expect:
                expect += "_knuckle"
        assert ours == expect, (i, n, ours)
    for i, n in enumerate(holistic.HandLandmark._member_names_):
        expect = "left_" + n.lower().replace("_finger", "").replace("wrist", "hand_wrist")
        assert mp.joints[33 + i] == expect


def test_sam_slr_27_is_the_published_selection_and_edges() -> None:
    coco, sam = get_layout("coco-wholebody-133"), get_layout("sam-slr-27")
    assert [coco.index(j) for j in sam.joints] == list(SAM_SLR_27_COCO)
    published = [(0, 1), (0, 2), (1, 3), (3, 5), (2, 4), (4, 6), (5, 7), (6, 17), (7, 8), (7, 9), (9, 10),
                 (7, 11), (11, 12), (7, 13), (13, 14), (7, 15), (15, 16), (17, 18), (17, 19), (19, 20),
                 (17, 21), (21, 22), (17, 23), (23, 24), (17, 25), (25, 26)]  # fmt: skip
    ours = {frozenset(map(int, e)) for e in sam.edge_index()}
    assert ours == {frozenset(e) for e in published}


def test_convert_coco_to_sam_slr_and_gspmc87() -> None:
    t = 2
    coords = np.zeros((t, 133, 3), np.float32)
    coords[..., 0] = np.arange(133)  # x = COCO index
    coords[..., 1] = np.arange(t)[:, None]
    mask = np.ones((t, 133), bool)
    mask[1, 99] = False  # left index tip missing in frame 1
    out, m = convert(coords, mask, "coco-wholebody-133", "sam-slr-27")
    assert out.shape == (t, 27, 3) and m.shape == (t, 27)
    np.testing.assert_array_equal(out[0, :, 0], SAM_SLR_27_COCO)
    assert out[0, 10, 0] == 99 and not m[1, 10] and out[1, 10].tolist() == [0, 0, 0]
    assert m.sum() == 2 * 27 - 1
    out87, m87 = convert(coords, mask, "coco-wholebody-133", "gspmc-87")
    expect = [i for p in ("body", "left_hand", "right_hand", "mouth", "face") for i in GSPMC_87_COCO[p]]
    np.testing.assert_array_equal(out87[0, :, 0], expect)
    assert out87[0, 0, 0] == 0 and out87[0, 15, 0] == 91 and out87[0, 36, 0] == 112
    assert out87[0, 57, 0] == 23 + 48  # first mouth point: right outer mouth corner
    assert out87[0, 86, 0] == 23 + 16  # last face point: left end of the jaw
    assert m87.all(axis=0).sum() == 86  # only the left index tip is missing (in frame 1)


def test_gspmc87_index_lists() -> None:
    idx = [i for v in GSPMC_87_COCO.values() for i in v]
    assert len(idx) == 87 == len(set(idx))
    assert GSPMC_87_COCO["mouth"] == (71, 73, 74, 75, 77, 79, 80, 81, 85, 89)
    assert sorted(GSPMC_87_COCO["face"]) == sorted((40, 42, 44, 45, 47, 49, 59, 60, 62, 64, 65, 67, 68, 69, 50, 53, 56, 23, 31, 39))


def test_convert_mediapipe_to_sam_slr_by_name() -> None:
    mp = get_layout("mp-data-258")
    coords = np.arange(75 * 2, dtype=np.float32).reshape(1, 75, 2)  # (T=1, V, D=2)
    mask = np.ones((1, 75), bool)
    out, m = convert(coords, mask, "mp-data-258", "sam-slr-27")
    sam = get_layout("sam-slr-27")
    assert m.all()
    for k, name in enumerate(sam.joints):
        np.testing.assert_array_equal(out[0, k], coords[0, mp.index(name)])
    assert out[0, 1].tolist() == coords[0, 11].tolist()  # left_shoulder: MediaPipe pose 11
    assert out[0, 7].tolist() == coords[0, 33].tolist()  # left hand wrist: first left-hand point


def test_convert_masks_joints_the_source_lacks() -> None:
    coords = np.ones((3, 27, 2), np.float32)
    out, m = convert(coords, np.ones((3, 27), bool), "sam-slr-27", "gspmc-87")
    g = get_layout("gspmc-87")
    assert m[:, g.index("left_wrist")].all() and m[:, g.index("left_index_tip")].all()
    assert not m[:, g.index("left_eye")].any() and not m[:, g.index("chin")].any()
    assert (out[~m] == 0).all() and (out[m] == 1).all()
    idx = conversion_indices("sam-slr-27", "gspmc-87")
    assert idx[g.index("nose")] == 0 and idx[g.index("left_eye")] == -1


def test_convert_coco_to_gspmc55_fills_mouth_corners_from_face() -> None:
    coco = get_layout("coco-wholebody-133")
    g55 = get_layout("gspmc-55")
    idx = conversion_indices("coco-wholebody-133", "gspmc-55")
    assert idx[g55.index("left_mouth_corner")] == coco.index("left_mouth_corner") == 23 + 54
    assert (idx >= 0).all()


def test_convert_rejects_wrong_joint_count() -> None:
    with pytest.raises(DataError, match="27 joints"):
        convert(np.zeros((4, 26, 2)), np.ones((4, 26), bool), "sam-slr-27", "gspmc-87")
    with pytest.raises(DataError, match="mask"):
        convert(np.zeros((4, 27, 2)), np.ones((4, 26), bool), "sam-slr-27", "gspmc-87")


@pytest.mark.parametrize("name", ALL)
def test_mirror_is_an_involution_and_swaps_sides(name: str) -> None:
    lay = get_layout(name)
    m = lay.mirror_indices()
    np.testing.assert_array_equal(m[m], np.arange(lay.num_joints))
    if lay.has("left_wrist"):
        assert m[lay.index("left_wrist")] == lay.index("right_wrist")
    assert m[lay.index("nose")] == lay.index("nose")
    for i, j in enumerate(lay.joints):
        if j.startswith("left_"):
            assert lay.joints[m[i]] == "right_" + j[5:]


def test_face_mesh_mirror_pairs() -> None:
    mp = get_layout("mediapipe-holistic-543")
    m = mp.mirror_indices()
    assert m[mp.index("face_mesh_33")] == mp.index("face_mesh_263")  # outer eye corners
    assert m[mp.index("face_mesh_61")] == mp.index("face_mesh_291")  # mouth corners
    assert m[mp.index("face_mesh_1")] == mp.index("face_mesh_1")  # nose tip on the midline
    face = mp.part_indices()["face"]
    assert (m[face] != face).sum() == 440


@pytest.mark.parametrize("name", MODEL_LAYOUTS)
def test_model_layouts_are_spanning_trees_rooted_at_the_nose(name: str) -> None:
    lay = get_layout(name)
    par = lay.parents()
    assert lay.is_spanning_tree()
    assert list(np.flatnonzero(par < 0)) == [lay.index("nose")]
    for v in range(lay.num_joints):  # every joint reaches the root
        seen = 0
        while par[v] >= 0:
            v, seen = par[v], seen + 1
            assert seen <= lay.num_joints
    # hands hang off the body wrists
    for side in ("left", "right"):
        assert lay.joints[par[lay.index(f"{side}_hand_wrist")]] == f"{side}_wrist"
    # the tree is left/right symmetric: parent(mirror(j)) == mirror(parent(j))
    m = lay.mirror_indices()
    for j in range(lay.num_joints):
        if par[j] >= 0:
            assert par[m[j]] == m[par[j]]


@pytest.mark.parametrize("name", MODEL_LAYOUTS)
def test_parts_partition_the_joints(name: str) -> None:
    lay = get_layout(name)
    idx = np.concatenate(list(lay.part_indices().values()))
    assert sorted(idx.tolist()) == list(range(lay.num_joints))


def test_unknown_layout_error_lists_known_names() -> None:
    with pytest.raises(ConfigError, match="gspmc-87") as e:
        get_layout("coco-17")
    assert isinstance(e.value, GspmcError)


def test_register_layout_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layouts_module, "_REGISTERED", dict(layouts_module._REGISTERED))  # undone after the test
    lay = Layout("test-chain-3", ("nose", "left_eye", "right_eye"), (("left_eye", "nose"), ("right_eye", "nose")),
                 {"body": ("nose", "left_eye", "right_eye")})  # fmt: skip
    register_layout(lay, replace=True)
    assert get_layout("test-chain-3") is lay and "test-chain-3" in list_layouts()
    with pytest.raises(ConfigError, match="already exists"):
        register_layout(lay)
    with pytest.raises(ConfigError, match="already exists"):
        register_layout(Layout("gspmc-87", ("a",), (), {}))
    assert hash(lay) == hash(Layout(lay.name, lay.joints, lay.edges, {}))  # parts do not enter the hash
    # replacing a layout invalidates cached conversions to it
    conversion_indices("sam-slr-27", "test-chain-3")
    register_layout(Layout("test-chain-3", ("left_eye", "nose"), (("left_eye", "nose"),), {}), replace=True)
    assert conversion_indices("sam-slr-27", "test-chain-3").tolist() == [-1, 0]
    with pytest.raises(ConfigError, match="more than one parent"):
        Layout("bad", ("a", "b", "c"), (("a", "b"), ("a", "c")), {})
    with pytest.raises(ConfigError, match="cycle"):
        Layout("bad", ("a", "b"), (("a", "b"), ("b", "a")), {})
    with pytest.raises(ConfigError, match="unknown joint"):
        Layout("bad", ("a",), (("a", "z"),), {})
    with pytest.raises(ConfigError, match="duplicate"):
        Layout("bad", ("a", "a"), (), {})
    with pytest.raises(ConfigError, match="no mirror"):
        Layout("one-sided", ("nose", "left_eye"), (), {}).mirror_indices()


def test_split_mp_data_258_masks_zero_hands() -> None:
    t = 3
    arr = np.zeros((t, 258), np.float32)
    pose = np.random.default_rng(0).uniform(0.1, 0.9, (t, 33, 4)).astype(np.float32)
    arr[:, :132] = pose.reshape(t, 132)
    lh = np.arange(63, dtype=np.float32).reshape(21, 3) / 100 + 0.5
    rh = lh + 1
    arr[0, 132:195] = lh.ravel()  # left hand only in frame 0
    arr[:, 195:258] = rh.ravel()  # right hand everywhere
    arr[2, 195:258] = 0  # ... except frame 2
    coords, mask, score = split_mp_data_vectors(arr)
    assert coords.shape == (t, 75, 3) and mask.shape == score.shape == (t, 75)
    np.testing.assert_allclose(coords[:, :33], pose[..., :3])
    np.testing.assert_allclose(score[:, :33], pose[..., 3])
    np.testing.assert_allclose(coords[0, 33:54], lh)
    np.testing.assert_allclose(coords[1, 54:75], rh)
    assert mask[0, 33:54].all() and not mask[1:, 33:54].any()
    assert mask[:2, 54:].all() and not mask[2, 54:].any()
    assert (score[1:, 33:54] == 0).all() and (score[0, 33:54] == 1).all()
    mp = get_layout("mp-data-258")
    assert mp.joints[33] == "left_hand_wrist"


def test_split_mp_data_1662_layout() -> None:
    arr = np.zeros((1, 1662), np.float32)
    arr[0, 132 + 3 * 5] = 0.25  # face point 5, x
    arr[0, 132 + 1404 + 63 + 3 * 20 + 1] = 0.75  # right pinky tip, y
    coords, mask, score = split_mp_data_vectors(arr)
    lay = get_layout("mp-data-1662")
    assert coords.shape == (1, 543, 3)
    assert coords[0, lay.index("face_mesh_5"), 0] == 0.25
    assert coords[0, lay.index("right_pinky_tip"), 1] == 0.75
    assert not mask[0, :33].any() and mask[0, 33:501].all() and not mask[0, 501:522].any() and mask[0, 522:].all()


def test_split_mp_data_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="258"):
        split_mp_data_vectors(np.zeros((3, 257)))
    bad = np.zeros((3, 258))
    bad[1, 7] = np.nan
    with pytest.raises(DataError, match="NaN"):
        split_mp_data_vectors(bad)
