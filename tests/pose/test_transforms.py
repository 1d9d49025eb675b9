"""Transforms: normalisation, temporal sampling, augmentation and the make_input pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.errors import ConfigError, DataError, GspmcError
from gspmc.pose.layouts import get_layout
from gspmc.pose.transforms import (
    AugmentConfig,
    InputConfig,
    augment_clip,
    make_input,
    make_inputs,
    mirror,
    normalize,
    sample_indices,
)

SAM = get_layout("sam-slr-27")


def _clip(t: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A sam-slr-27 clip with shoulders at (2 +- 1.5, 5 + small drift): width 3, mid (2, 5)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-4, 8, (t, 27, 2)).astype(np.float32)
    xy[:, SAM.index("left_shoulder")] = [3.5, 5.0]
    xy[:, SAM.index("right_shoulder")] = [0.5, 5.0]
    return xy, np.ones((t, 27), bool)


def test_normalize_puts_mid_shoulders_at_zero_and_unit_width() -> None:
    xy, mask = _clip()
    out, centre, scale = normalize(xy, mask, SAM)
    np.testing.assert_allclose(centre, [2.0, 5.0])
    assert scale == pytest.approx(3.0)
    np.testing.assert_allclose(out[:, SAM.index("left_shoulder")], [[0.5, 0.0]] * 6, atol=1e-6)
    np.testing.assert_allclose(out[:, SAM.index("right_shoulder")], [[-0.5, 0.0]] * 6, atol=1e-6)
    np.testing.assert_allclose(out, (xy - [2.0, 5.0]) / 3.0, rtol=1e-5, atol=1e-6)


def test_normalize_is_robust_to_an_outlier_frame_and_ignores_masked_frames() -> None:
    xy, mask = _clip(t=7)
    xy[3, SAM.index("left_shoulder")] = [100.0, -50.0]  # one detector jump
    xy[5, SAM.index("right_shoulder")] = [np.nan, np.nan]
    mask[5, SAM.index("right_shoulder")] = False
    xy = np.where(mask[..., None], xy, 0)
    _, centre, scale = normalize(xy, mask, SAM)
    np.testing.assert_allclose(centre, [2.0, 5.0])
    assert scale == pytest.approx(3.0)


def test_normalize_fallback_without_shoulders() -> None:
    xy = np.zeros((2, 27, 2), np.float32)
    mask = np.zeros((2, 27), bool)
    hand = SAM.part_indices()["right_hand"]
    mask[:, hand] = True
    xy[0, hand] = np.stack([np.linspace(0, 4, 10), np.linspace(1, 3, 10)], axis=1)
    xy[1, hand] = xy[0, hand]
    out, centre, scale = normalize(xy, mask, SAM)
    np.testing.assert_allclose(centre, [2.0, 2.0])
    assert scale == pytest.approx(2.0)  # half the larger side (4) of the bounding box
    assert out[mask].min() == pytest.approx(-1.0) and out[mask].max() == pytest.approx(1.0)
    assert (out[~mask] == 0).all()


def test_uniform_sampling_hand_checked() -> None:
    np.testing.assert_array_equal(sample_indices(10, 5), [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(sample_indices(3, 6), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(sample_indices(1, 4), [0, 0, 0, 0])
    np.testing.assert_array_equal(sample_indices(20, 20), np.arange(20))


def test_random_sampling_is_sorted_in_range_and_seeded() -> None:
    for length, window in [(100, 16), (5, 16), (1, 8), (20, 20)]:
        a = sample_indices(length, window, np.random.default_rng(1), crop=(0.5, 1.0))
        b = sample_indices(length, window, np.random.default_rng(1), crop=(0.5, 1.0))
        np.testing.assert_array_equal(a, b)
        assert len(a) == window and a.min() >= 0 and a.max() < length
        assert (np.diff(a) >= 0).all()
    # without a crop, every one of 16 segments of a 160-frame clip contributes a frame of its own
    idx = sample_indices(160, 16, np.random.default_rng(2))
    np.testing.assert_array_equal(idx // 10, np.arange(16))


def test_mirror_twice_is_identity_and_swaps_wrists() -> None:
    xy, mask = _clip()
    mask[2, SAM.index("left_wrist")] = False
    m1, k1 = mirror(xy, mask, SAM)
    lw, rw = SAM.index("left_wrist"), SAM.index("right_wrist")
    np.testing.assert_array_equal(m1[:, lw, 0], -xy[:, rw, 0])
    np.testing.assert_array_equal(m1[:, lw, 1], xy[:, rw, 1])
    assert not k1[2, rw] and k1[2, lw]
    m2, k2 = mirror(m1, k1, SAM)
    np.testing.assert_array_equal(m2, xy)
    np.testing.assert_array_equal(k2, mask)


def test_augment_rotation_scale_shift_values() -> None:
    xy = np.zeros((1, 27, 2), np.float32)
    xy[0, 1] = [1.0, 0.0]
    mask = np.ones((1, 27), bool)
    aug = AugmentConfig(rotation_deg=90.0, scale=(2.0, 2.0), shift=0.0, crop=(1.0, 1.0))
    rng = np.random.default_rng(3)
    angle = np.deg2rad(np.random.default_rng(3).uniform(-90, 90))
    out, _, _ = augment_clip(xy, mask, SAM, aug, rng)
    np.testing.assert_allclose(out[0, 1], [2 * np.cos(angle), 2 * np.sin(angle)], atol=1e-6)
    assert np.linalg.norm(out[0, 0]) == 0  # the origin stays put


def test_augment_hand_dropout_masks_whole_hands() -> None:
    xy, mask = _clip(t=50)
    _, m, _ = augment_clip(xy, mask, SAM, AugmentConfig(hand_dropout=0.5), np.random.default_rng(0))
    parts = SAM.part_indices()
    for hand in ("left_hand", "right_hand"):
        per_frame = m[:, parts[hand]]
        assert (per_frame.all(axis=1) | ~per_frame.any(axis=1)).all()  # all or nothing per frame
        assert 5 < (~per_frame.any(axis=1)).sum() < 45
    assert m[:, parts["body"]].all()


def test_make_input_shapes_channels_and_missing_joints_zero() -> None:
    xy, mask = _clip(t=8)
    mask[:, SAM.index("left_wrist")] = False
    cfg = InputConfig(layout="sam-slr-27", window=8, stream="joint")
    x = make_input(xy, mask, "sam-slr-27", cfg)
    assert x.shape == (3, 8, 27) and x.dtype == np.float32
    lw = SAM.index("left_wrist")
    assert (x[:, :, lw] == 0).all()
    np.testing.assert_array_equal(x[2], mask.astype(np.float32))
    np.testing.assert_allclose(x[:2, :, SAM.index("left_shoulder")].T, [[0.5, 0.0]] * 8, atol=1e-6)
    np.testing.assert_allclose(x[:2].transpose(1, 2, 0)[mask], ((xy - [2, 5]) / 3)[mask], rtol=1e-5, atol=1e-6)


def test_make_input_converts_layouts_and_drops_z() -> None:
    coco = get_layout("coco-wholebody-133")
    t = 4
    coords = np.random.default_rng(0).uniform(0, 1, (t, 133, 3)).astype(np.float32)
    mask = np.ones((t, 133), bool)
    cfg = InputConfig(layout="gspmc-87", window=t, normalize="none")
    x = make_input(coords, mask, "coco-wholebody-133", cfg)
    g = get_layout("gspmc-87")
    np.testing.assert_allclose(x[0, :, g.index("left_index_tip")], coords[:, coco.index("left_index_tip"), 0])
    np.testing.assert_allclose(x[1, :, g.index("chin")], coords[:, 23 + 8, 1])


def test_make_input_streams_consistent_with_joint_stream() -> None:
    xy, mask = _clip(t=5)
    base = dict(layout="sam-slr-27", window=5)
    j = make_input(xy, mask, "sam-slr-27", InputConfig(**base, stream="joint"))
    b = make_input(xy, mask, "sam-slr-27", InputConfig(**base, stream="bone"))
    jm = make_input(xy, mask, "sam-slr-27", InputConfig(**base, stream="joint_motion"))
    par = SAM.parents()
    child = SAM.index("left_elbow")
    np.testing.assert_allclose(b[:2, :, child], j[:2, :, child] - j[:2, :, par[child]], atol=1e-6)
    np.testing.assert_allclose(jm[:2, :-1], j[:2, 1:] - j[:2, :-1], atol=1e-6)
    assert (jm[:, -1] == 0).all()


def test_make_input_training_is_seeded_and_varies() -> None:
    xy, mask = _clip(t=30)
    cfg = InputConfig(layout="sam-slr-27", window=10)
    aug = AugmentConfig(mirror_prob=0.5, noise_std=0.01)
    a = make_input(xy, mask, "sam-slr-27", cfg, aug, np.random.default_rng(7))
    b = make_input(xy, mask, "sam-slr-27", cfg, aug, np.random.default_rng(7))
    c = make_input(xy, mask, "sam-slr-27", cfg, aug, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ConfigError, match="Generator"):
        make_input(xy, mask, "sam-slr-27", cfg, aug, None)


def test_make_input_one_frame_clip_and_empty_frames() -> None:
    xy, mask = _clip(t=1)
    x = make_input(xy, mask, "sam-slr-27", InputConfig(layout="sam-slr-27", window=4))
    np.testing.assert_array_equal(x[:, 0], x[:, 3])
    # frames in which nothing is observed are dropped before sampling
    xy, mask = _clip(t=4)
    mask[0] = False
    x = make_input(xy, mask, "sam-slr-27", InputConfig(layout="sam-slr-27", window=3))
    assert x[2].all()


def test_make_input_nothing_observed_gives_zeros() -> None:
    # e.g. the empty scene of an idle class: valid input, not an error
    xy = np.full((5, 27, 2), np.nan, np.float32)
    for stream in ("joint", "bone_motion"):
        cfg = InputConfig(layout="sam-slr-27", window=4, stream=stream)
        x = make_input(xy, np.zeros((5, 27), bool), "sam-slr-27", cfg, AugmentConfig(), np.random.default_rng(0))
        assert x.shape == (3, 4, 27) and (x == 0).all()


def test_make_input_score_confidence() -> None:
    xy, mask = _clip(t=3)
    score = np.full((3, 27), 0.5, np.float32)
    cfg = InputConfig(layout="sam-slr-27", window=3, confidence="score")
    x = make_input(xy, mask, "sam-slr-27", cfg, score=score)
    assert (x[2] == 0.5).all()
    with pytest.raises(ConfigError, match="no scores"):
        make_input(xy, mask, "sam-slr-27", cfg)


@pytest.mark.parametrize(
    ("coords", "mask", "match"),
    [
        (np.zeros((0, 27, 2)), np.zeros((0, 27), bool), "no frames"),
        (np.zeros((3, 26, 2)), np.ones((3, 26), bool), "26 joints"),
        (np.zeros((3, 27)), np.ones((3, 27), bool), "shape"),
        (np.zeros((3, 27, 2)), np.ones((3, 27), bool)[:, :5], "mask"),
    ],
)
def test_make_input_bad_input(coords: np.ndarray, mask: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match) as e:
        make_input(coords, mask, "sam-slr-27", InputConfig(layout="sam-slr-27", window=4), source="clip42.npy")
    assert "clip42.npy" in str(e.value) and isinstance(e.value, GspmcError)


def test_make_input_nan_where_observed_is_an_error_but_masked_nan_is_fine() -> None:
    xy, mask = _clip(t=3)
    xy[1, SAM.index("right_wrist")] = np.nan
    cfg = InputConfig(layout="sam-slr-27", window=3)
    with pytest.raises(DataError, match="right_wrist"):
        make_input(xy, mask, "sam-slr-27", cfg)
    mask[1, SAM.index("right_wrist")] = False
    x = make_input(xy, mask, "sam-slr-27", cfg)
    assert np.isfinite(x).all() and x[2, 1, SAM.index("right_wrist")] == 0


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="stream"):
        InputConfig(stream="velocity")
    with pytest.raises(ConfigError, match="unknown keypoint layout"):
        InputConfig(layout="nope")
    with pytest.raises(ConfigError, match="window"):
        InputConfig(window=0)
    with pytest.raises(ConfigError, match="scale"):
        AugmentConfig(scale=(1.2, 1.1))
    with pytest.raises(ConfigError, match="probability"):
        AugmentConfig(mirror_prob=1.5)


def test_make_inputs_equals_stacked_make_input() -> None:
    clips = [_clip(t=t, seed=t) for t in (3, 9, 1)]
    cfg = InputConfig(layout="sam-slr-27", window=5, stream="bone")
    aug = AugmentConfig(mirror_prob=0.5)
    batch = make_inputs(clips, "sam-slr-27", cfg, aug, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    ref = np.stack([make_input(c, m, "sam-slr-27", cfg, aug, rng) for c, m in clips])
    assert batch.shape == (3, 3, 5, 27)
    np.testing.assert_array_equal(batch, ref)
    assert make_inputs([], "sam-slr-27", cfg).shape == (0, 3, 5, 27)


def test_augment_config_accepts_yaml_lists() -> None:
    aug = AugmentConfig(scale=[0.8, 1.2], crop=[0.5, 1])  # type: ignore[arg-type]
    assert aug.scale == (0.8, 1.2) and aug.crop == (0.5, 1.0)
    hash(aug)
    with pytest.raises(ConfigError, match="pair"):
        AugmentConfig(scale=1.1)  # type: ignore[arg-type]


def test_make_input_mirror_augmentation_swaps_sides_and_scores() -> None:
    xy, mask = _clip(t=6)
    score = np.tile(np.linspace(0.1, 1.0, 27, dtype=np.float32), (6, 1))  # (T, V), differs per joint
    cfg = InputConfig(layout="sam-slr-27", window=6, confidence="score")
    only_mirror = AugmentConfig(rotation_deg=0, scale=(1, 1), shift=0, mirror_prob=1.0, crop=(1, 1))
    plain = make_input(xy, mask, "sam-slr-27", cfg, score=score)
    mirrored = make_input(xy, mask, "sam-slr-27", cfg, only_mirror, np.random.default_rng(0), score=score)
    mi = SAM.mirror_indices()
    np.testing.assert_allclose(mirrored[0], -plain[0][:, mi], atol=1e-6)
    np.testing.assert_allclose(mirrored[1], plain[1][:, mi], atol=1e-6)
    np.testing.assert_array_equal(mirrored[2], plain[2][:, mi])
    lw, rw = SAM.index("left_wrist"), SAM.index("right_wrist")
    assert mirrored[2, 0, lw] == score[0, rw]


def test_make_input_from_mediapipe_543_to_gspmc55() -> None:
    coords = np.random.default_rng(0).uniform(0, 1, (5, 543, 3)).astype(np.float32)
    mask = np.ones((5, 543), bool)
    mask[:, 501:522] = False  # left hand not detected
    x = make_input(coords, mask, "mediapipe-holistic-543", InputConfig(layout="gspmc-55", window=5))
    g = get_layout("gspmc-55")
    lh = g.part_indices()["left_hand"]
    assert (x[:, :, lh] == 0).all()
    assert (x[2][:, np.setdiff1d(np.arange(55), lh)] == 1).all()
