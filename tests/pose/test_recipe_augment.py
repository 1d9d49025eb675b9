"""Recipe augmentations of issue 20 (shear, temporal masking, resampling through ``speed``) on
hand-computed cases; at their neutral values they draw nothing from the generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.pose.layouts import get_layout
from gspmc.pose.transforms import AugmentConfig, augment_clip, sample_indices, shear, time_mask

SAM = get_layout("sam-slr-27")


class _Fixed:
    """A stand-in generator that returns given values in order (uniform / integers)."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls: list[str] = []

    def uniform(self, lo: float = 0.0, hi: float = 1.0, size: object = None) -> float:
        self.calls.append("uniform")
        return self.values.pop(0)

    def integers(self, lo: int, hi: int | None = None) -> int:
        self.calls.append("integers")
        v = self.values.pop(0)
        assert lo <= v < hi  # the value must be one the real generator could return
        return v


def test_shear_hand_computed() -> None:
    xy = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]], np.float32)
    out = shear(xy, 0.5, -0.25)  # x' = x + 0.5 y, y' = y - 0.25 x
    np.testing.assert_allclose(out, [[1.0, -0.25], [0.5, 1.0], [3.5, 2.5]])
    np.testing.assert_allclose(shear(xy, 0.0, 0.0), xy)


def test_time_mask_hand_computed() -> None:
    mask = np.ones((10, 3), bool)
    # hit (0.1 < 0.5); longest = floor(0.4 * 10) = 4; span 3 (in 1..4), first frame 6 (in 0..7)
    rng = _Fixed(0.1, 3, 6)
    out = time_mask(mask, 0.5, 0.4, rng)
    expect = np.ones((10, 3), bool)
    expect[6:9] = False
    np.testing.assert_array_equal(out, expect)
    assert mask.all()  # the input is not modified
    miss = _Fixed(0.9)  # not hit: one draw only, nothing masked
    np.testing.assert_array_equal(time_mask(mask, 0.5, 0.4, miss), mask)
    assert miss.calls == ["uniform"]
    short = np.ones((2, 1), bool)  # floor(0.4 * 2) = 0 -> at least one frame
    np.testing.assert_array_equal(time_mask(short, 1.0, 0.4, _Fixed(0.0, 1, 1)), [[True], [False]])


def test_time_mask_real_generator_masks_one_run_of_at_most_the_share() -> None:
    mask = np.ones((20, 27), bool)
    for seed in range(30):
        out = time_mask(mask, 1.0, 0.25, np.random.default_rng(seed))
        gone = np.flatnonzero(~out.all(1))
        assert 1 <= len(gone) <= 5 and np.all(np.diff(gone) == 1)  # one run, <= floor(0.25 * 20)
        assert not out[gone].any()  # every joint of those frames


def test_augment_clip_applies_shear_after_rotation_and_scale() -> None:
    xy = np.zeros((2, 27, 2), np.float32)
    xy[:, 0] = [1.0, 2.0]
    mask = np.ones((2, 27), bool)
    aug = AugmentConfig(rotation_deg=0.0, scale=(2.0, 2.0), shift=0.0, shear=0.3)
    rng = np.random.default_rng(4)
    twin = np.random.default_rng(4)
    twin.uniform(2.0, 2.0)  # the scale draw
    a, b = twin.uniform(-0.3, 0.3, 2)
    out, _, _ = augment_clip(xy, mask, SAM, aug, rng)
    x, y = 2.0, 4.0  # scaled by 2
    np.testing.assert_allclose(out[0, 0], [x + a * y, y + b * x], rtol=1e-6)
    assert rng.bit_generator.state == twin.bit_generator.state


@pytest.mark.parametrize("neutral", [dict(shear=0.0), dict(time_mask=0.0), dict(shear=0.0, time_mask=0.0,
                                                                                  time_mask_max=0.9)])
def test_neutral_values_draw_nothing(neutral: dict) -> None:
    """With shear 0 and time_mask 0 the generator is left exactly where the older steps leave it:
    rotation (1 draw), scale (1), shift (2): compared on the generator's state."""
    rng = np.random.default_rng(11)
    xy = np.random.default_rng(0).normal(size=(6, 27, 2)).astype(np.float32)
    mask = np.ones((6, 27), bool)
    recipe = dict(rotation_deg=10.0, scale=(0.9, 1.1), shift=0.1)  # the shipped geometric steps
    out, m, _ = augment_clip(xy, mask, SAM, AugmentConfig(**recipe, **neutral), rng)
    twin = np.random.default_rng(11)
    angle = math.radians(twin.uniform(-10.0, 10.0))
    s = twin.uniform(0.9, 1.1)
    shift = twin.uniform(-0.1, 0.1, 2)
    assert rng.bit_generator.state == twin.bit_generator.state
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
    np.testing.assert_allclose(out, (xy @ rot.T) * s + shift.astype(np.float32), rtol=1e-5, atol=1e-6)
    assert m.all()


def test_resampling_is_the_speed_option() -> None:
    """Resampling 0.5-1.5x (the Kaggle recipe) is ``augment.speed``: at rate 1.5 a 30-frame clip plays
    in round(10 / 1.5) = 7 of 10 frames and holds the last one; at 0.5, 10 of 20 slowed frames."""
    fast = sample_indices(30, 10, np.random.default_rng(2), crop=(1.0, 1.0), speed=(1.5, 1.5))
    np.testing.assert_array_equal(fast[7:], fast[6])
    assert np.all(np.diff(fast[:7]) > 0)
    slow = sample_indices(30, 10, np.random.default_rng(2), crop=(1.0, 1.0), speed=(0.5, 0.5))
    assert np.all(np.diff(slow) >= 0) and slow[-1] - slow[0] <= 16


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="shear"):
        AugmentConfig(shear=-0.1)
    with pytest.raises(ConfigError, match="time_mask"):
        AugmentConfig(time_mask=1.5)
    with pytest.raises(ConfigError, match="time_mask_max"):
        AugmentConfig(time_mask_max=0.0)
