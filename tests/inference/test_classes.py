"""Class-list alignment by name, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.errors import ConfigError
from gspmc.inference.classes import align_classes
from gspmc.inference.metrics import compute_metrics

MODEL = ["a", "b", "c"]
SCORES = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.5, 1.0], [2.0, 0.0, 1.0]])  # model columns a, b, c


def test_same_list_changes_nothing() -> None:
    al = align_classes(MODEL, MODEL)
    s, y, kept = al.apply(SCORES, np.array([0, 1, 2, 2]))
    assert al.identity and al.report() == {}
    np.testing.assert_array_equal(s, SCORES)
    np.testing.assert_array_equal(y, [0, 1, 2, 2])
    np.testing.assert_array_equal(kept, [0, 1, 2, 3])


def test_permuted_data_order_is_remapped_by_name() -> None:
    data = ["c", "a", "b"]  # the data's label 0 is "c"
    true = ["a", "b", "c", "c"]
    labels = np.array([data.index(n) for n in true])  # [1, 2, 0, 0]
    al = align_classes(MODEL, data)
    s, y, _ = al.apply(SCORES, labels)
    assert al.reordered and al.classes == MODEL
    np.testing.assert_array_equal(y, [0, 1, 2, 2])  # into the model's columns
    ref = compute_metrics(SCORES, np.array([0, 1, 2, 2]), MODEL)
    assert compute_metrics(s, y, al.classes) == ref


def test_different_sets_are_refused_naming_both_sides() -> None:
    with pytest.raises(ConfigError, match=r"the data has \['d'\] \(1\) that the model lacks, the model has \['b'\] \(1\)"):
        align_classes(MODEL, ["a", "c", "d"], where="m.ckpt")


def test_shared_classes_score_only_what_both_have() -> None:
    data = ["a", "c", "d"]
    labels = np.array([0, 1, 2, 1])  # a, c, d, c
    al = align_classes(MODEL, data, shared=True)
    s, y, kept = al.apply(SCORES, labels)
    assert al.classes == ["a", "c"] and al.missing == ["d"] and al.extra == ["b"]
    np.testing.assert_array_equal(kept, [0, 1, 3])  # the "d" clip is not scored
    np.testing.assert_array_equal(s, SCORES[[0, 1, 3]][:, [0, 2]])
    np.testing.assert_array_equal(y, [0, 1, 1])
    # clip 1 (true c) had "b" highest; among the shared classes c wins
    assert compute_metrics(s, y, al.classes)["top1"] == pytest.approx(2 / 3)
    assert al.report()["shared_classes"] == {"scored": 2, "data_only": ["d"], "model_only": ["b"]}
    with pytest.raises(ConfigError, match="share no class"):
        align_classes(MODEL, ["x"], shared=True)
