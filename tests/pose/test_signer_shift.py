"""Inputs and augmentations for the signer shift (issue 14): hand frame, missing-joint fill,
confidence "none", hand gaps and speed change, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.pose.layouts import get_layout
from gspmc.pose.transforms import (
    AugmentConfig,
    InputConfig,
    fill_missing,
    hand_frame,
    hand_gap,
    make_input,
    sample_indices,
)

SAM = get_layout("sam-slr-27")
LW, LM, LT = SAM.index("left_hand_wrist"), SAM.index("left_middle_mcp"), SAM.index("left_index_tip")
LI = SAM.index("left_index_mcp")  # the parent of the index tip
RW, RM = SAM.index("right_hand_wrist"), SAM.index("right_middle_mcp")
NOSE = SAM.index("nose")


def _hands_clip(t: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Left wrist at (1 + f, 2) in frame f, left middle MCP 0.5 above it (palm 0.5), left index tip
    (0.5, 1.0) and left index MCP (0.25, 0.5) from the wrist; right wrist (-1, 0), right middle MCP (-1, 2) (palm 2)."""
    xy = np.zeros((t, 27, 2), np.float32)
    for f in range(t):
        xy[f, LW] = [1 + f, 2]
        xy[f, LM] = [1 + f, 2.5]
        xy[f, LT] = [1.5 + f, 3]
        xy[f, LI] = [1.25 + f, 2.5]
    xy[:, RW] = [-1, 0]
    xy[:, RM] = [-1, 2]
    xy[:, NOSE] = [7, 7]
    mask = np.zeros((t, 27), bool)
    mask[:, [LW, LM, LT, LI, RW, RM, NOSE]] = True
    return xy, mask


def test_hand_frame_hand_computed() -> None:
    xy, mask = _hands_clip()
    out = hand_frame(xy, mask, SAM)  # (T, V, 2)
    np.testing.assert_allclose(out[:, LW], 0.0)  # the wrist is the origin
    np.testing.assert_allclose(out[:, LM], [[0.0, 1.0]] * 3)  # one palm above the wrist
    np.testing.assert_allclose(out[:, LT], [[1.0, 2.0]] * 3)  # (0.5, 1.0) / 0.5, in every frame
    np.testing.assert_allclose(out[:, RM], [[0.0, 1.0]] * 3)  # palm 2
    np.testing.assert_allclose(out[:, NOSE], 0.0)  # not a hand joint
    # where the signer stands and how big the signer is do not matter
    moved = hand_frame(xy * 3.0 + np.float32(5.0), mask, SAM)
    np.testing.assert_allclose(moved[mask], out[mask], atol=1e-5)


def test_hand_frame_missing_wrist_and_never_seen_palm() -> None:
    xy, mask = _hands_clip()
    mask[1, LW] = False  # no wrist in frame 1: that frame's left-hand values are 0
    mask[:, RM] = False  # right palm never seen: scale 1
    out = hand_frame(xy, mask, SAM)
    np.testing.assert_allclose(out[1, LT], 0.0)
    np.testing.assert_allclose(out[0, LT], [1.0, 2.0])
    np.testing.assert_allclose(out[:, RM], 0.0)


def test_fill_missing_holds_last_seen_and_backfills_the_start() -> None:
    xy = np.arange(5, dtype=np.float32).reshape(5, 1, 1).repeat(2, axis=1).repeat(2, axis=2)  # value = frame
    mask = np.array([[False, False], [True, False], [False, False], [True, False], [False, False]])
    out, valid = fill_missing(xy, mask)
    np.testing.assert_array_equal(out[:, 0, 0], [1, 1, 1, 3, 3])  # backfill frame 0, hold 1, hold 3
    np.testing.assert_array_equal(out[:, 1], 0.0)  # joint 1 is never seen: stays 0
    np.testing.assert_array_equal(valid[:, 0], True)
    np.testing.assert_array_equal(valid[:, 1], False)


def test_make_input_missing_last_keeps_c_and_carries_fill_into_bones() -> None:
    xy, mask = _hands_clip(4)
    mask[2, [LW, LM, LT, LI]] = False  # the left hand is lost in frame 2
    cfg = InputConfig("sam-slr-27", 4, "joint", normalize="none", missing="last")
    x = make_input(xy, mask, "sam-slr-27", cfg)  # (C, T, V)
    np.testing.assert_allclose(x[:2, 2, LT], xy[1, LT])  # held at frame 1's position
    assert x[2, 2, LT] == 0.0  # c still says "not seen"
    zero = make_input(xy, mask, "sam-slr-27", InputConfig("sam-slr-27", 4, "joint", normalize="none"))
    np.testing.assert_allclose(zero[:2, 2, LT], 0.0)
    bone = make_input(xy, mask, "sam-slr-27", InputConfig("sam-slr-27", 4, "bone", normalize="none",
                                                          missing="last"))
    assert SAM.parents()[LT] == LI
    np.testing.assert_allclose(bone[:2, 2, LT], xy[1, LT] - xy[1, LI])  # the fill's bone: (0.25, 0.5)
    assert bone[2, 2, LT] == 0.0


def test_make_input_hand_frame_channels_and_confidence_none() -> None:
    xy, mask = _hands_clip()
    cfg = InputConfig("sam-slr-27", 3, "joint", normalize="none", hand_frame=True)
    assert cfg.channels == 5
    x = make_input(xy, mask, "sam-slr-27", cfg)
    assert x.shape == (5, 3, 27)
    np.testing.assert_allclose(x[2:4, :, LT].T, [[1.0, 2.0]] * 3)  # hx, hy
    np.testing.assert_array_equal(x[4], mask.astype(np.float32))  # c is last
    none = make_input(xy, mask, "sam-slr-27", InputConfig("sam-slr-27", 3, "joint", normalize="none",
                                                          confidence="none"))
    np.testing.assert_array_equal(none[2], 1.0)
    np.testing.assert_allclose(none[:2], make_input(xy, mask, "sam-slr-27",
                                                    InputConfig("sam-slr-27", 3, "joint", normalize="none"))[:2])


def test_hand_frame_needs_hand_joints(monkeypatch: pytest.MonkeyPatch) -> None:
    import gspmc.pose.layouts as layouts_module

    monkeypatch.setattr(layouts_module, "_REGISTERED", dict(layouts_module._REGISTERED))  # undone after the test
    layouts_module.register_layout(layouts_module.Layout(
        "test-no-hands", ("nose", "left_wrist"), (("left_wrist", "nose"),), {"body": ("nose", "left_wrist")}))
    InputConfig("test-no-hands", 8)  # fine without the hand frame
    with pytest.raises(ConfigError, match="hand_frame needs .* lacks left_hand_wrist"):
        InputConfig("test-no-hands", 8, hand_frame=True)
    with pytest.raises(ConfigError, match="missing 'interp' is unknown"):
        InputConfig("sam-slr-27", 8, missing="interp")


def test_hand_gap_masks_one_run_per_hand() -> None:
    mask = np.ones((10, 27), bool)
    parts = SAM.part_indices()
    rng = np.random.default_rng(3)
    out = hand_gap(mask, SAM, 1.0, rng)
    for hand in ("left_hand", "right_hand"):
        gone = ~out[:, parts[hand]].any(axis=1)  # (T,) frames in which this hand is masked
        assert gone.any()
        runs = np.flatnonzero(np.diff(np.r_[0, gone.astype(int), 0]))
        assert len(runs) == 2  # one contiguous run
        assert out[:, parts[hand]].all(axis=1)[~gone].all()  # whole hand, nothing partial
    assert out[:, parts["body"]].all()
    # the draws, by hand: a span 1..T and a start where it fits, left hand first
    ref = np.random.default_rng(3)
    ref.uniform()
    span = int(ref.integers(1, 11))
    first = int(ref.integers(0, 10 - span + 1))
    gone = ~out[:, parts["left_hand"]].any(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(gone), np.arange(first, first + span))
    assert hand_gap(mask, SAM, 0.0, np.random.default_rng(0)).all()


def test_speed_change_holds_or_crops_and_neutral_speed_draws_nothing() -> None:
    fast = sample_indices(20, 10, np.random.default_rng(0), crop=(1.0, 1.0), speed=(2.0, 2.0))
    assert fast.shape == (10,)
    np.testing.assert_array_equal(fast[5:], fast[4])  # 20 frames at 2x fill 5 frames; then hold
    assert np.all(np.diff(fast[:5]) > 0) and fast[4] >= 16  # the whole clip plays in 5 frames
    slow = sample_indices(20, 10, np.random.default_rng(0), crop=(1.0, 1.0), speed=(0.5, 0.5))
    assert slow.shape == (10,) and np.all(np.diff(slow) >= 0)
    assert slow[-1] - slow[0] <= 10  # 10 of 40 slowed frames: about half the clip
    # speed off: exactly the draws of the sampler before the option existed (crop fraction, start, one
    # position per segment), checked on the generator's state, not against the default it equals
    g = np.random.default_rng(5)
    sample_indices(20, 10, g, crop=(0.8, 1.0), speed=(1.0, 1.0))
    ref = np.random.default_rng(5)
    keep = min(20, max(1, round(ref.uniform(0.8, 1.0) * 20)))
    ref.integers(0, 20 - keep + 1)
    ref.uniform(0, 1, 10)
    assert g.bit_generator.state == ref.bit_generator.state
    fast_g = np.random.default_rng(5)
    sample_indices(20, 10, fast_g, crop=(0.8, 1.0), speed=(1.5, 2.0))
    assert fast_g.bit_generator.state != ref.bit_generator.state  # a speed change does draw
    with pytest.raises(ConfigError, match="speed"):
        AugmentConfig(speed=(1.2, 0.8))


def test_hand_gap_off_is_never_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """hand_gap 0 skips the step (no draw), so the rest of the augmentation sees the old random stream."""
    import gspmc.pose.transforms as transforms

    calls: list[float] = []
    real = transforms.hand_gap

    def spy(mask, layout, prob, rng):  # noqa: ANN001, ANN202
        calls.append(prob)
        return real(mask, layout, prob, rng)

    monkeypatch.setattr(transforms, "hand_gap", spy)
    xy, mask = _hands_clip(8)
    cfg = InputConfig("sam-slr-27", 6, "joint")
    make_input(xy, mask, "sam-slr-27", cfg, AugmentConfig(hand_gap=0.0), np.random.default_rng(1))
    assert calls == []
    make_input(xy, mask, "sam-slr-27", cfg, AugmentConfig(hand_gap=0.5), np.random.default_rng(1))
    assert calls == [0.5]
