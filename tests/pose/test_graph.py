"""Graph adjacency: CTR-GCN's three partitions derived from the layout's edges."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.pose.graph import adjacency
from gspmc.pose.layouts import MODEL_LAYOUTS, Layout, get_layout


def test_adjacency_of_a_hand_made_tree() -> None:
    # root r with children a, b; a has child c
    lay = Layout("t", ("r", "a", "b", "c"), (("a", "r"), ("b", "r"), ("c", "a")), {})
    a = adjacency(lay)
    assert a.shape == (3, 4, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a[0], np.eye(4))
    inward = np.array([[0, 0.5, 0.5, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], np.float32)
    outward = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    np.testing.assert_array_equal(a[1], inward)
    np.testing.assert_array_equal(a[2], outward)


@pytest.mark.parametrize("name", MODEL_LAYOUTS)
def test_partitions_are_row_normalised_and_transposed(name: str) -> None:
    lay = get_layout(name)
    a = adjacency(name)
    v = lay.num_joints
    assert a.shape == (3, v, v)
    for k in (1, 2):
        rows = a[k].sum(axis=1)
        nz = rows > 0
        np.testing.assert_allclose(rows[nz], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a[1] > 0, (a[2] > 0).T)
    # one edge per non-root joint in each directed partition
    assert (a[2] > 0).sum() == (a[1] > 0).sum() == v - 1
    par = lay.parents()
    leaves = np.setdiff1d(np.arange(v), par[par >= 0])
    assert (a[1][leaves].sum(axis=1) == 0).all()
    assert a[2][lay.index("nose")].sum() == 0
