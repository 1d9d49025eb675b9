"""Data-efficiency subsets (issue 20, point 4): k clips per class, the step-matched epoch, and a
repeated clip's own augmentation draws."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.data.subsets import per_class_subset, repeat_to
from gspmc.errors import ConfigError


def test_per_class_subset_hand_computed() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 5])
    idx = np.array([9, 0, 1, 2, 3, 4, 5, 6, 7, 8])  # the split's order (clip 9 first)
    out = per_class_subset(idx, labels, 2, seed=3)
    lab = labels[out]
    assert sorted(np.bincount(lab, minlength=6).tolist()) == [0, 0, 1, 2, 2, 2]  # class 5 has one clip: kept
    # the pick of class c is numpy's choice over its positions with the generator (seed, c)
    pos2 = np.flatnonzero(labels[idx] == 2)
    expect2 = idx[np.sort(np.random.default_rng([3, 2]).choice(pos2, size=2, replace=False))]
    np.testing.assert_array_equal(out[lab == 2], expect2)
    assert list(out) == [i for i in idx if i in set(out)]  # split order kept
    np.testing.assert_array_equal(per_class_subset(idx, labels, 2, seed=3), out)  # same seed, same clips
    np.testing.assert_array_equal(np.sort(per_class_subset(idx, labels, 10, seed=0)), np.sort(idx))


def test_per_class_subset_a_class_does_not_depend_on_the_others() -> None:
    labels = np.repeat(np.arange(4), 10)
    full = per_class_subset(np.arange(40), labels, 3, seed=1)
    without_0 = per_class_subset(np.arange(10, 40), labels, 3, seed=1)
    np.testing.assert_array_equal(full[labels[full] != 0], without_0)
    seeds = {tuple(per_class_subset(np.arange(40), labels, 3, seed=s)) for s in range(5)}
    assert len(seeds) == 5  # seeded subsets differ between seeds
    with pytest.raises(ConfigError, match="per_class"):
        per_class_subset(np.arange(40), labels, 0, seed=0)


def test_repeat_to_fills_the_full_epoch() -> None:
    np.testing.assert_array_equal(repeat_to(np.array([7, 3, 5]), 8), [7, 3, 5, 7, 3, 5, 7, 3])
    np.testing.assert_array_equal(repeat_to(np.array([7, 3]), 2), [7, 3])
    np.testing.assert_array_equal(repeat_to(np.array([7, 3, 1]), 2), [7, 3, 1])  # never cut
    assert repeat_to(np.zeros(0, np.int64), 5).size == 0


def test_repeated_clip_gets_its_own_draws_and_single_clips_keep_theirs() -> None:
    from gspmc.data.dataset import SkeletonDataset
    from gspmc.data.sample import ClipSet, Sample
    from gspmc.pose.transforms import AugmentConfig, InputConfig

    rng = np.random.default_rng(0)
    samples = [Sample(id=f"c{i}", coords=rng.normal(size=(12, 27, 2)).astype(np.float32),
                      mask=np.ones((12, 27), bool), label=i % 2, layout="sam-slr-27") for i in range(3)]
    clips = ClipSet(samples=samples, classes=["a", "b"], layout="sam-slr-27", name="toy")
    cfg = InputConfig("sam-slr-27", 8, "joint")
    once = SkeletonDataset(clips, [0, 1, 2], cfg, AugmentConfig(), seed=4)
    twice = SkeletonDataset(clips, [0, 1, 2, 0, 1], cfg, AugmentConfig(), seed=4)
    for p in range(3):  # first copies: the draws of the plain dataset (seed, epoch, clip)
        np.testing.assert_array_equal(twice[p][0], once[p][0])
        assert twice.rng_for(p).bit_generator.state == np.random.default_rng([4, 0, p]).bit_generator.state
    assert twice.rng_for(3).bit_generator.state == np.random.default_rng([4, 0, 0, 1]).bit_generator.state
    assert not np.array_equal(twice[3][0], twice[0][0])  # the second copy is augmented differently
    assert twice[3][1] == twice[0][1]
