"""SkeletonDataset: make_input per item, reproducible per-item randomness, the evaluation cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_builders import write_npz
from torch.utils.data import DataLoader

from gspmc.data.dataset import SkeletonDataset
from gspmc.data.readers.npz import read_mp_npz
from gspmc.errors import ConfigError
from gspmc.pose.transforms import AugmentConfig, InputConfig, make_input

CFG = InputConfig(layout="mediapipe-75", window=8, stream="joint")


@pytest.fixture
def clips(tmp_path: Path, npz_arrays: dict):
    npz_arrays["keypoints"][5] = 0  # an all-unobserved clip
    return read_mp_npz(write_npz(tmp_path / "x.npz", npz_arrays))


def test_items_equal_make_input(clips) -> None:
    ds = SkeletonDataset(clips, [4, 0, 2], CFG)
    assert len(ds) == 3 and ds.labels().tolist() == [1, 0, 2]
    x, label = ds[1]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (3, 8, 75) and label == 0
    s = clips[0]
    np.testing.assert_array_equal(x.numpy(), make_input(s.coords, s.mask, s.layout, CFG, None, None))
    np.testing.assert_array_equal(ds[-1][0].numpy(), ds[2][0].numpy())
    with pytest.raises(IndexError):
        ds[3]
    assert set(np.unique(x[2].numpy())) <= {0.0, 1.0}  # c = mask by default
    by_score = SkeletonDataset(clips, [0], InputConfig(layout="mediapipe-75", window=8, confidence="score"))
    np.testing.assert_array_equal(
        by_score[0][0].numpy(), make_input(s.coords, s.mask, s.layout, by_score.input_cfg, None, None, score=s.score))


def test_one_frame_clip(tmp_path: Path, npz_arrays: dict) -> None:
    npz_arrays["lengths"][0] = 1
    clips = read_mp_npz(write_npz(tmp_path / "one.npz", npz_arrays))
    assert clips[0].num_frames == 1
    joint = SkeletonDataset(clips, [0], CFG)[0][0]
    assert torch.equal(joint[:, :1].expand(-1, 8, -1), joint)  # the one frame over the whole window
    motion = SkeletonDataset(clips, [0], InputConfig(layout="mediapipe-75", window=8, stream="joint_motion"))[0][0]
    assert float(motion[:2].abs().max()) == 0.0


def test_unobserved_clip_gives_zeros(clips) -> None:
    x, label = SkeletonDataset(clips, [5], CFG)[0]
    assert label == 2 and float(x.abs().max()) == 0.0


def test_augmentation_is_reproducible(clips) -> None:
    aug = AugmentConfig(rotation_deg=15, noise_std=0.01)
    ds = SkeletonDataset(clips, range(6), CFG, aug, seed=7)
    first = torch.stack([ds[i][0] for i in range(6)])
    again = torch.stack([ds[i][0] for i in range(6)])
    assert torch.equal(first, again)
    # item i's randomness depends on (seed, epoch, clip index), not on the order items are made
    reordered = torch.stack([ds[i][0] for i in reversed(range(6))]).flip(0)
    assert torch.equal(first, reordered)
    rng = np.random.default_rng([7, 0, 3])
    s = clips[3]
    np.testing.assert_array_equal(first[3].numpy(), make_input(s.coords, s.mask, s.layout, CFG, aug, rng))
    ds.set_epoch(1)
    assert not torch.equal(torch.stack([ds[i][0] for i in range(5)]), first[:5])
    ds.set_epoch(0)
    loader = DataLoader(ds, batch_size=3, num_workers=2, shuffle=False)
    batched = torch.cat([xb for xb, _ in loader])
    assert torch.equal(batched, first)
    other_seed = SkeletonDataset(clips, range(6), CFG, aug, seed=8)
    assert not torch.equal(other_seed[0][0], first[0])


def test_cache(clips) -> None:
    plain = SkeletonDataset(clips, [0, 1, 2], CFG)
    cached = SkeletonDataset(clips, [0, 1, 2], CFG, cache=True)
    for i in range(3):
        assert torch.equal(plain[i][0], cached[i][0]) and plain[i][1] == cached[i][1]
    cached[0][0].zero_()  # items are copies: the cache cannot be changed from outside
    assert torch.equal(cached[0][0], plain[0][0])
    with pytest.raises(ConfigError, match="cache=True is for evaluation sets"):
        SkeletonDataset(clips, [0], CFG, AugmentConfig(), cache=True)
    with pytest.raises(ConfigError, match="out of range"):
        SkeletonDataset(clips, [6], CFG)
    assert len(SkeletonDataset(clips, [], CFG, cache=True)) == 0


@pytest.mark.shared_data
def test_real_clips_through_the_dataset(traduttore) -> None:
    clips = traduttore
    empty = [i for i, s in enumerate(clips.samples) if not s.mask.any()]
    picked = np.r_[np.arange(0, len(clips), 50), empty[:5]]
    cfg = InputConfig(layout="sam-slr-27", window=20, stream="bone")
    ds = SkeletonDataset(clips, picked, cfg, AugmentConfig(mirror_prob=0.5, hand_dropout=0.1), seed=0)
    xs = torch.stack([ds[i][0] for i in range(len(ds))])  # (N, 3, 20, 27)
    assert xs.shape == (len(picked), 3, 20, 27) and torch.isfinite(xs).all()
    assert float(xs[-5:].abs().max()) == 0.0  # the idle clips with nobody in view
    assert float(xs[:-5, 2].mean()) > 0.3  # most joints observed in the rest
