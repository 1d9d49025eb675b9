"""The pose pipeline on the real traduttore recordings (skips when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gspmc.pose.layouts import get_layout, split_mp_data_vectors
from gspmc.pose.transforms import AugmentConfig, InputConfig, make_input

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def traduttore(shared_data: Path) -> np.ndarray:
    with np.load(shared_data / "traduttore_asl33.npz") as z:
        return z["keypoints"][::10]  # (N/10, 20, 258): every tenth clip keeps the test fast


def test_mp_data_hands_sit_on_the_pose_wrists_of_the_same_side(traduttore: np.ndarray) -> None:
    coords, mask, _ = split_mp_data_vectors(traduttore.reshape(-1, 258))  # (N*T, 75, 3)
    lay = get_layout("mp-data-258")
    for side, other in (("left", "right"), ("right", "left")):
        seen = mask[:, lay.index(f"{side}_hand_wrist")] & mask[:, lay.index(f"{side}_wrist")]
        hand = coords[seen, lay.index(f"{side}_hand_wrist"), :2]
        same = np.linalg.norm(hand - coords[seen, lay.index(f"{side}_wrist"), :2], axis=-1)
        cross = np.linalg.norm(hand - coords[seen, lay.index(f"{other}_wrist"), :2], axis=-1)
        assert seen.sum() > 100 and (same < cross).mean() > 0.95, side


def test_traduttore_inputs_are_finite_and_shoulder_normalised(traduttore: np.ndarray) -> None:
    cfg = InputConfig(layout="sam-slr-27", window=20)
    sam = get_layout("sam-slr-27")
    rng = np.random.default_rng(0)
    widths, empty = [], 0
    for clip in traduttore:
        coords, mask, _ = split_mp_data_vectors(clip)
        x = make_input(coords, mask, "mp-data-258", cfg)
        xa = make_input(coords, mask, "mp-data-258", InputConfig("sam-slr-27", 20, "bone_motion"), AugmentConfig(), rng)
        assert x.shape == xa.shape == (3, 20, 27) and np.isfinite(x).all() and np.isfinite(xa).all()
        if not mask.any():
            empty += 1
            assert (x == 0).all()
            continue
        both = (x[2, :, sam.index("left_shoulder")] > 0) & (x[2, :, sam.index("right_shoulder")] > 0)
        d = x[:2, both, sam.index("left_shoulder")] - x[:2, both, sam.index("right_shoulder")]  # (2, T')
        widths.append(np.median(np.linalg.norm(d, axis=0)))
        assert np.abs(x[:2]).max() < 10
    np.testing.assert_allclose(widths, 1.0, atol=2e-3)  # medians over resampled frames
    assert empty >= 1  # the idle class has empty scenes, which are valid all-zero inputs
