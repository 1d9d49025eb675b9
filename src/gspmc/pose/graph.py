"""Graph adjacency of a keypoint layout for graph convolutions (CTR-GCN's spatial partitions).

CTR-GCN (Chen et al., ICCV 2021), like ST-GCN before it, splits each joint's neighbourhood into
three partitions: the joint itself, its neighbours closer to the root ("centripetal") and those
farther away ("centrifugal"). We derive them from the layout's ``(child, parent)`` edges:

* ``A[0] = I``: the joint itself.
* ``A[1]`` (inward): ``A[1][i, j] = 1 / n_children(i)`` when ``j`` is a child of ``i``: each joint
  averages what its children send towards the root.
* ``A[2]`` (outward): ``A[2][i, j] = 1`` when ``j`` is the parent of ``i``: each joint receives
  from its parent (a joint has at most one parent, so the row average is the parent itself).

Convention: a graph convolution computes ``out[..., i] = sum_j A[k][i, j] * x[..., j]``, i.e.
``x @ A[k].T`` over the joint axis (``einsum("nctv,wv->nctw", x, A[k])``). Each non-empty row of
``A[1]`` and ``A[2]`` sums to 1 (row normalisation ``D^-1 A``, ``D`` the row degree); rows of
leaves (``A[1]``) and of roots (``A[2]``) are zero. ``A[2]`` is ``A[1]``'s transpose pattern:
``A[1][i, j] > 0`` exactly when ``A[2][j, i] > 0``.
"""

from __future__ import annotations

import numpy as np

from gspmc.pose.layouts import Layout, get_layout

__all__ = ["adjacency", "row_normalize"]


def row_normalize(a: np.ndarray) -> np.ndarray:
    """``D^-1 A`` with ``D`` the row sums; all-zero rows stay zero. (V, V) -> (V, V)."""
    deg = a.sum(axis=1, keepdims=True)  # (V, 1)
    return np.divide(a, deg, out=np.zeros_like(a), where=deg > 0)


def adjacency(layout: str | Layout) -> np.ndarray:
    """(3, V, V) float32: identity, row-normalised inward and row-normalised outward adjacency.

    See the module docstring for the partitions and the convention ``out[i] = sum_j A[i, j] x[j]``.
    """
    lay = get_layout(layout)
    v = lay.num_joints
    edges = lay.edge_index()  # (E, 2) (child, parent)
    inward = np.zeros((v, v), dtype=np.float64)
    inward[edges[:, 1], edges[:, 0]] = 1.0  # parent <- child
    outward = inward.T.copy()  # child <- parent
    a = np.stack([np.eye(v), row_normalize(inward), row_normalize(outward)])  # (3, V, V)
    return a.astype(np.float32)
