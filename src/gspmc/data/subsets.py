"""Training subsets for data-efficiency runs: k clips per class, and the step-matched epoch.

:func:`per_class_subset` picks at most k training clips of each class with a seeded draw (the same
clips for every run of a seed, whatever its objective); :func:`repeat_to` lists a subset as often
as it takes to fill the full training split's epoch, so every k trains for the same number of
optimisation steps, with the same warm-up, milestones and validation points (issue 20, point 4).
"""

from __future__ import annotations

import numpy as np

from gspmc.errors import ConfigError

__all__ = ["per_class_subset", "repeat_to"]


def per_class_subset(indices: np.ndarray, labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """At most ``k`` clips of each class of ``indices``, drawn without replacement.

    The draw of a class depends only on ``(seed, class)`` and on that class's clips (in ``indices``
    order): a class's pick does not change when other classes come or go, and the CE and GSP-MC runs
    of one seed train on the same clips. A class with ``k`` clips or fewer keeps them all.

    Args:
        indices: (N,) clip indices (the protocol's training split).
        labels: the label of every clip of the ClipSet (indexed by ``indices``).
        k: clips per class, >= 1.
        seed: the subset's seed.

    Returns:
        The picked indices, in their order in ``indices``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if k < 1:
        raise ConfigError(f"data.per_class must be >= 1, got {k}")
    lab = np.asarray(labels)[indices]  # (N,)
    keep = np.zeros(len(indices), bool)
    for c in np.unique(lab):
        pos = np.flatnonzero(lab == c)  # (n_c,) positions of class c
        if len(pos) > k:
            pos = np.random.default_rng([int(seed), int(c)]).choice(pos, size=k, replace=False)
        keep[pos] = True
    return indices[keep]


def repeat_to(indices: np.ndarray, n: int) -> np.ndarray:
    """``indices`` repeated to length ``n`` (whole copies, then the first ``n mod len`` once more);
    unchanged when it already has ``n`` or more entries (or none)."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0 or n <= len(indices):
        return indices
    return np.resize(indices, n)  # (n,)
