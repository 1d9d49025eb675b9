"""Prototype arithmetic and the evaluation metrics, on cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gspmc.inference.prototypes import (
    class_prototypes,
    combine,
    cosine,
    mean_prototype,
    open_set_scores,
    unit,
)
from gspmc.inference.scores import log_softmax
from gspmc.openvocab.evaluate import (
    best_index,
    calibrated_stacking,
    draw_support,
    fused_scores,
    gzsl_metrics,
    harmonic,
    part_scores,
    per_class_accuracy,
    positions,
    ridge_fit,
    ridge_predict,
    text_scores,
    topk_accuracy,
)


def test_clip_prototype_is_the_mean_of_normalised_embeddings() -> None:
    # (3, 4) -> (0.6, 0.8); (0, 2) -> (0, 1); mean = (0.3, 0.9)
    got = mean_prototype(np.array([[3.0, 4.0], [0.0, 2.0]]))
    np.testing.assert_allclose(got, [0.3, 0.9], atol=1e-7)
    # the length of an embedding does not matter, only its direction
    np.testing.assert_allclose(mean_prototype(np.array([[30.0, 40.0], [0.0, 0.5]])), [0.3, 0.9], atol=1e-7)
    with pytest.raises(ValueError):
        mean_prototype(np.zeros((0, 2)))


def test_text_and_clip_prototypes_combine_with_the_text_weight() -> None:
    text, clips = np.array([0.0, 2.0]), np.array([3.0, 4.0])
    # 0.25 * (0, 1) + 0.75 * (0.6, 0.8) = (0.45, 0.85)
    np.testing.assert_allclose(combine(text, clips, 0.25), [0.45, 0.85], atol=1e-7)
    np.testing.assert_allclose(combine(text, clips, 1.0), [0.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(combine(text, clips, 0.0), [0.6, 0.8], atol=1e-7)
    np.testing.assert_allclose(combine(None, clips, 0.3), [0.6, 0.8], atol=1e-7)  # one kind: its unit vector
    np.testing.assert_allclose(combine(text, None, 0.3), [0.0, 1.0], atol=1e-7)
    with pytest.raises(ValueError):
        combine(None, None, 0.5)
    with pytest.raises(ValueError):
        combine(text, clips, 1.5)


def test_cosine_and_class_prototypes() -> None:
    q = np.array([[1.0, 0.0], [1.0, 1.0]])
    p = np.array([[2.0, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(cosine(q, p), [[1.0, 0.0], [1 / math.sqrt(2), 1 / math.sqrt(2)]], atol=1e-6)
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 5.0], [3.0, 4.0]])
    labels = np.array([7, 7, 9, 9])
    # class 7: mean((1,0), (0,1)) = (0.5, 0.5); class 9: mean((0,1), (0.6,0.8)) = (0.3, 0.9)
    np.testing.assert_allclose(class_prototypes(emb, labels, np.array([9, 7])), [[0.3, 0.9], [0.5, 0.5]], atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(unit(np.array([[0.0, 0.0], [3.0, 4.0]])), axis=1), [0.0, 1.0])


def test_open_set_scores_put_enrolled_classes_on_the_log_probability_scale() -> None:
    logits = np.array([[2.0, 0.0]])
    lp = log_softmax(logits)
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0)
    np.testing.assert_allclose(lp, [[-math.log(1 + math.exp(-2)), -2 - math.log(1 + math.exp(-2))]])
    cos_new = np.array([[0.95, 0.5]])
    s = open_set_scores(lp, cos_new, tau=0.1, bias=1.0)
    # (0.95 - 1) / 0.1 + 1 = 0.5 ; (0.5 - 1) / 0.1 + 1 = -4
    np.testing.assert_allclose(s[0, 2:], [0.5, -4.0], atol=1e-9)
    np.testing.assert_allclose(s[0, :2], lp[0])
    # the enrolled class wins iff cos > 1 + tau (log p_top - bias)
    assert s.argmax() == 2
    assert open_set_scores(lp, cos_new, tau=0.1, bias=0.0).argmax() == 0  # -0.5 < log p = -0.127


def test_topk_ties_are_broken_by_class_order_and_accuracies() -> None:
    scores = np.array([[0.5, 0.5, 0.1], [0.1, 0.2, 0.3], [0.9, 0.0, 0.0]])
    targets = np.array([1, 2, 2])
    assert topk_accuracy(scores, targets, 1) == pytest.approx(1 / 3)  # row 0: the tie goes to class 0
    assert topk_accuracy(scores, targets, 2) == pytest.approx(2 / 3)  # row 2: the 0.0 tie ranks class 1 first
    assert math.isnan(topk_accuracy(scores[:0], targets[:0], 1))
    pred = np.array([0, 0, 1, 1, 1])
    tg = np.array([0, 1, 1, 1, 2])
    # class 0: 1/1, class 1: 2/3, class 2: 0/1 -> (1 + 2/3 + 0) / 3
    assert per_class_accuracy(pred, tg, [0, 1, 2]) == pytest.approx((1 + 2 / 3) / 3)
    assert harmonic(0.5, 0.25) == pytest.approx(1 / 3)
    assert harmonic(0.0, 0.9) == 0.0
    assert best_index([0.1, 0.3, 0.3]) == 1
    np.testing.assert_array_equal(positions(np.array([5, 3, 8]), np.array([3, 5])), [1, 0, -1])


def test_calibrated_stacking_and_generalised_metrics() -> None:
    scores = np.array([[0.6, 0.1, 0.5], [0.7, 0.2, 0.6], [0.1, 0.8, 0.0]])  # columns: seen 0, seen 1, unseen 2
    targets = np.array([2, 2, 1])
    seen = np.array([True, True, False])
    m0 = gzsl_metrics(scores, targets, [0, 1], [2])
    assert (m0["seen"], m0["unseen"], m0["h"]) == (1.0, 0.0, 0.0)  # the unseen clips go to seen class 0
    cal = calibrated_stacking(scores, seen, 0.15)
    np.testing.assert_allclose(cal[0], [0.45, -0.05, 0.5])
    m = gzsl_metrics(cal, targets, [0, 1], [2])
    assert (m["seen"], m["unseen"], m["h"]) == (1.0, 1.0, 1.0)


def test_text_and_part_scores() -> None:
    emb = np.array([[1.0, 0.0]])
    protos = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    s = text_scores(emb, protos, np.array([True, False, True]))
    assert s[0, 0] == pytest.approx(1.0) and s[0, 1] == -np.inf and s[0, 2] == pytest.approx(1 / math.sqrt(2))
    parts = {"left": np.array([[0.0, 1.0]]), "right": np.array([[1.0, 0.0]])}
    part_protos = {"left": (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([True, False])),
                   "right": (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([True, False]))}
    ps = part_scores(parts, part_protos, np.array([0, 1]))
    assert ps[0, 0] == pytest.approx(1.0)  # mean of cos 1 (left) and cos 1 (right)
    assert np.isnan(ps[0, 1])  # class 1 has no part text
    g = np.array([[0.2, 0.4]])
    np.testing.assert_allclose(fused_scores(g, ps, 0.5), [[0.6, 0.4]])  # class 1 keeps its global score
    np.testing.assert_allclose(fused_scores(g, ps, 0.0), g)


def test_ridge_recovers_a_linear_map_and_support_draws_are_seeded() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    w = rng.normal(size=(5, 3))
    y = x @ w + 2.0
    model = ridge_fit(x, y, 1e-6)
    np.testing.assert_allclose(ridge_predict(model, x[:7]), y[:7], atol=1e-4)
    wide = ridge_fit(x[:4], y[:4], 1e-6)  # more features than clips: the dual form interpolates
    np.testing.assert_allclose(ridge_predict(wide, x[:4]), y[:4], atol=1e-3)
    labels = np.array([0, 0, 0, 1, 1, 2])
    pool = np.arange(6)
    a = draw_support(np.random.default_rng(1), pool, labels, np.array([0, 1]), 2)
    b = draw_support(np.random.default_rng(1), pool, labels, np.array([0, 1]), 2)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 4 and set(labels[a]) == {0, 1}
    assert len(draw_support(np.random.default_rng(1), pool, labels, np.array([2]), 3)) == 1  # all it has
