"""Streams: hand-computed bones and motion, confidence propagation."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.pose.streams import bone, compute_stream, motion


def test_bone_of_a_two_joint_chain() -> None:
    # joint 0 is the root, joint 1's parent is 0
    x = np.array([[[1.0, 2.0], [4.0, 6.0]], [[0.0, 0.0], [-1.0, 1.0]]], np.float32)  # (T=2, V=2, 2)
    c = np.ones((2, 2), np.float32)
    b, cb = bone(x, c, np.array([-1, 0]))
    np.testing.assert_array_equal(b, [[[0, 0], [3, 4]], [[0, 0], [-1, 1]]])
    np.testing.assert_array_equal(cb, c)


def test_bone_confidence_is_the_weaker_end() -> None:
    x = np.array([[[1.0, 2.0], [4.0, 6.0], [5.0, 5.0]]], np.float32)  # (T=1, V=3, 2); 2's parent is 1
    c = np.array([[0.9, 0.0, 0.5]], np.float32)  # joint 1 missing
    b, cb = bone(x, c, np.array([-1, 0, 1]))
    np.testing.assert_allclose(cb, [[0.9, 0.0, 0.0]])
    assert (b[0, 1:] == 0).all()  # both bones touch the missing joint


def test_motion_last_frame_is_zero() -> None:
    x = np.array([[[0.0, 0.0]], [[1.0, 2.0]], [[4.0, 4.0]]], np.float32)  # (T=3, V=1, 2)
    c = np.array([[1.0], [1.0], [1.0]], np.float32)
    m, cm = motion(x, c)
    np.testing.assert_array_equal(m[:, 0], [[1, 2], [3, 2], [0, 0]])
    np.testing.assert_array_equal(cm[:, 0], [1, 1, 0])
    c[1, 0] = 0  # a gap in frame 1: both differences touching it are missing
    m, cm = motion(x, c)
    np.testing.assert_array_equal(cm[:, 0], [0, 0, 0])
    assert (m == 0).all()


def test_streams_work_with_leading_batch_dims() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 3, 2)).astype(np.float32)  # (N, T, V, 2)
    c = np.ones((4, 5, 3), np.float32)
    parents = np.array([-1, 0, 1])
    bm, _ = compute_stream(x, c, "bone_motion", parents)
    for n in range(4):
        ref, _ = motion(*bone(x[n], c[n], parents))
        np.testing.assert_allclose(bm[n], ref)
    j, cj = compute_stream(x, c, "joint", parents)
    assert j is x and cj is c


def test_unknown_stream() -> None:
    with pytest.raises(ConfigError, match="joint_motion"):
        compute_stream(np.zeros((1, 1, 2)), np.zeros((1, 1)), "velocity", np.array([-1]))
