"""Prediction arithmetic: softmax, weighted fusion, class-list checks, top-k, the sliding window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from gspmc.apps.live import SlidingWindow
from gspmc.errors import ConfigError
from gspmc.inference.predictor import Predictor, check_same_classes
from gspmc.inference.scores import fuse, fusion_weights, softmax


@dataclass
class _Fixed:
    """A scorer with fixed logits (no model needed for the arithmetic)."""

    classes: list[str]
    out: np.ndarray
    input_cfg: object = None

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.out[None]


def test_softmax_hand_computed_and_stable() -> None:
    p = softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))
    np.testing.assert_allclose(p, [[0.25, 0.75], [0.5, 0.5]])


def test_fuse_is_weighted_average_of_probabilities() -> None:
    with np.errstate(divide="ignore"):
        a = np.log(np.array([[0.5, 0.5, 0.0]]))  # logits whose softmax is (0.5, 0.5, 0)
    b = np.log(np.array([[0.0 + 1e-300, 0.25, 0.75]]))
    fused = fuse([a, b], np.array([3.0, 1.0]))
    # (3 * a + 1 * b) / 4
    np.testing.assert_allclose(fused, [[0.375, 0.4375, 0.1875]])
    np.testing.assert_allclose(fused.sum(), 1.0)


def test_fusion_weights_validation() -> None:
    np.testing.assert_array_equal(fusion_weights(None, 3), [1, 1, 1])
    with pytest.raises(ConfigError, match="2 fusion weights for 3"):
        fusion_weights([1, 2], 3)
    with pytest.raises(ConfigError, match=">= 0"):
        fusion_weights([1, -1], 2)
    with pytest.raises(ConfigError):
        fusion_weights([0, 0], 2)


def test_mismatched_class_lists_are_a_clear_error() -> None:
    a = _Fixed(["coffee", "tea"], np.zeros(2))
    b = _Fixed(["tea", "coffee"], np.zeros(2))
    c = _Fixed(["coffee", "milk", "tea"], np.zeros(3))
    assert check_same_classes([a, a], ["a", "a2"]) == ["coffee", "tea"]
    with pytest.raises(ConfigError, match="b.ckpt.*different order"):
        check_same_classes([a, b], ["a.ckpt", "b.ckpt"])
    with pytest.raises(ConfigError, match="only in this one: \\['milk'\\]"):
        Predictor([a, c], names=["a.ckpt", "c.ckpt"])


def test_predictor_fuses_and_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    import gspmc.inference.predictor as predict

    monkeypatch.setattr(predict, "model_input", lambda coords, mask, src, cfg, score, source: np.zeros((3, 4, 5), np.float32))
    classes = ["a", "b", "c"]
    s1 = _Fixed(classes, np.log(np.array([0.6, 0.3, 0.1])))
    s2 = _Fixed(classes, np.log(np.array([0.1, 0.2, 0.7])))
    pred = Predictor([s1, s2], weights=[1.0, 3.0])
    probs = pred.probabilities(np.zeros((4, 543, 3), np.float32), np.ones((4, 543), bool))
    np.testing.assert_allclose(probs, [(0.6 + 0.3) / 4, (0.3 + 0.6) / 4, (0.1 + 2.1) / 4])
    glosses, top = pred.top_k(probs, 2)
    assert glosses == ["c", "a"]  # tie between a and b broken by class order
    np.testing.assert_allclose(top, [0.55, 0.225])
    assert pred.top_k(probs, 10)[0] == ["c", "a", "b"]  # k clipped to the class count


def test_sliding_window_keeps_last_frames_in_order() -> None:
    win = SlidingWindow(3)
    for t in range(5):
        win.push(np.full((2, 3), t, np.float32), np.array([True, t % 2 == 0]))
    coords, mask, score = win.arrays()
    assert len(win) == 3 and coords.shape == (3, 2, 3)
    np.testing.assert_array_equal(coords[:, 0, 0], [2, 3, 4])
    np.testing.assert_array_equal(mask[:, 1], [True, False, True])
    np.testing.assert_array_equal(score[:, 1], [1.0, 0.0, 1.0])  # default score = mask
