"""Evaluation metrics and fusion against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gspmc.errors import DataError
from gspmc.inference.metrics import compute_metrics, confusion_matrix, per_class_accuracy, topk_accuracy
from gspmc.inference.scores import fuse, softmax
from gspmc.train.evaluate import (
    ScoreFile,
    align_scores,
    evaluate_scores,
    load_scores,
    save_scores,
    tune_fusion_weights,
)

# 4 clips, 6 classes. Ranking of each row (highest first):
#   clip0: 0 > 1 > 2 > ...         label 0 -> top-1 hit
#   clip1: 2 > 1 > 0 > ...         label 1 -> rank 2
#   clip2: 5 > 4 > 3 > 2 > 1 > 0   label 0 -> rank 6 (outside top-5)
#   clip3: 3 > 0 > ...             label 3 -> top-1 hit
SCORES = np.array(
    [
        [9.0, 8.0, 7.0, 1.0, 0.0, -1.0],
        [5.0, 6.0, 7.0, 1.0, 0.0, -1.0],
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        [8.0, 1.0, 0.0, 9.0, 0.5, 0.2],
    ]
)
LABELS = np.array([0, 1, 0, 3])
CLASSES = ["a", "b", "c", "d", "e", "f"]


def test_topk_hand_computed() -> None:
    assert topk_accuracy(SCORES, LABELS, 1) == pytest.approx(2 / 4)
    assert topk_accuracy(SCORES, LABELS, 2) == pytest.approx(3 / 4)
    assert topk_accuracy(SCORES, LABELS, 5) == pytest.approx(3 / 4)
    assert topk_accuracy(SCORES, LABELS, 6) == pytest.approx(1.0)
    assert np.isnan(topk_accuracy(np.zeros((0, 6)), np.zeros(0, int), 1))


def test_per_class_and_confusion_hand_computed() -> None:
    pred = SCORES.argmax(1)  # [0, 2, 5, 3]
    cm = confusion_matrix(pred, LABELS, 6)
    assert cm[0, 0] == 1 and cm[0, 5] == 1 and cm[1, 2] == 1 and cm[3, 3] == 1 and cm.sum() == 4
    acc = per_class_accuracy(pred, LABELS, 6)
    assert acc[0] == pytest.approx(0.5) and acc[1] == 0.0 and acc[3] == 1.0
    assert np.isnan(acc[2]) and np.isnan(acc[4]) and np.isnan(acc[5])
    m = compute_metrics(SCORES, LABELS, CLASSES)
    assert m["top1"] == pytest.approx(0.5) and m["top5"] == pytest.approx(0.75)
    assert m["mean_class_accuracy"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    assert m["per_class"] == {"a": {"n": 2, "accuracy": 0.5}, "b": {"n": 1, "accuracy": 0.0},
                              "d": {"n": 1, "accuracy": 1.0}}
    assert m["num_classes_present"] == 3


def test_fuse_is_weighted_average_of_softmax() -> None:
    a = np.array([[2.0, 0.0], [0.0, 0.0]])
    b = np.array([[0.0, 3.0], [1.0, 0.0]])
    fused = fuse([a, b], [1.0, 2.0])
    sa = np.array([[np.e**2 / (np.e**2 + 1), 1 / (np.e**2 + 1)], [0.5, 0.5]])
    sb = np.array([[1 / (1 + np.e**3), np.e**3 / (1 + np.e**3)], [np.e / (np.e + 1), 1 / (np.e + 1)]])
    np.testing.assert_allclose(fused, (sa + 2 * sb) / 3)
    np.testing.assert_allclose(fuse([a, b]), (sa + sb) / 2)
    np.testing.assert_allclose(fused.sum(1), 1.0)
    np.testing.assert_allclose(softmax(a).sum(1), 1.0)
    with pytest.raises(ValueError):
        fuse([a, b], [1.0])
    with pytest.raises(ValueError):
        fuse([a, b], [0.0, 0.0])
    with pytest.raises(ValueError):
        fuse([a, b[:1]])


def test_tune_fusion_weights_prefers_the_informative_stream() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=200)
    good = rng.normal(size=(200, 5))
    good[np.arange(200), labels] += 3.0  # mostly right
    noise = rng.normal(size=(200, 5)) * 5  # uninformative, large
    w = tune_fusion_weights([good, noise], labels)
    assert w[0] > 0 and w[1] == 0.0
    # equal weights win ties: two identical streams
    assert tune_fusion_weights([good, good], labels) in ([1.0, 1.0], [0.5, 0.5], [1.5, 1.5], [2.0, 2.0])
    w2 = tune_fusion_weights([good, good], labels)
    assert w2[0] == w2[1]


def test_score_file_round_trip_and_alignment(tmp_path) -> None:
    sf = ScoreFile(SCORES.astype(np.float32), LABELS, np.array(["w", "x", "y", "z"]), CLASSES)
    save_scores(tmp_path / "a.npz", sf)
    back = load_scores(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.scores, sf.scores)
    assert back.classes == CLASSES and back.ids.tolist() == ["w", "x", "y", "z"]
    perm = [2, 0, 3, 1]
    shuffled = ScoreFile(sf.scores[perm], LABELS[perm], sf.ids[perm], CLASSES)
    mats, labels = align_scores([sf, shuffled], ["a", "b"])
    np.testing.assert_array_equal(mats[0], mats[1])
    np.testing.assert_array_equal(labels, LABELS)
    other = ScoreFile(sf.scores, LABELS, np.array(["w", "x", "y", "q"]), CLASSES)
    with pytest.raises(DataError, match="clip ids differ"):
        align_scores([sf, other], ["a", "b"])
    # the same classes in another order: matched by name, identical matrices
    order = [3, 1, 5, 0, 2, 4]
    reordered = ScoreFile(sf.scores[:, order], np.asarray([order.index(y) for y in LABELS]), sf.ids,
                          [CLASSES[i] for i in order])
    mats, labels = align_scores([sf, reordered], ["a", "b"])
    np.testing.assert_array_equal(mats[1], mats[0])
    np.testing.assert_array_equal(labels, LABELS)
    renamed = ScoreFile(sf.scores, LABELS, sf.ids, [*CLASSES[:-1], "zz"])
    with pytest.raises(DataError, match="cannot fuse.*the data has \\['f'\\]"):
        align_scores([sf, renamed], ["a", "b"])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        load_scores(tmp_path / "bad.npz")


def test_evaluate_scores_writes_report_and_png(tmp_path) -> None:
    sf = ScoreFile(SCORES.astype(np.float32), LABELS, np.array(["w", "x", "y", "z"]), CLASSES)
    report = evaluate_scores(sf, tmp_path, "test", config={"name": "t"}, checkpoints=["c.ckpt"])
    on_disk = json.loads((tmp_path / "report_test.json").read_text())
    assert on_disk["metrics"]["top1"] == pytest.approx(0.5)
    assert on_disk["counts"] == {"clips": 4, "classes_present": 3, "classes_total": 6}
    assert on_disk["split"] == "test" and on_disk["checkpoints"] == ["c.ckpt"]
    # the matrix itself (rows true, columns predicted): predictions [0, 2, 5, 3] for labels [0, 1, 0, 3]
    matrix = np.zeros((6, 6), int)
    matrix[0, 0] = matrix[1, 2] = matrix[0, 5] = matrix[3, 3] = 1
    assert on_disk["confusion"] == {"classes": CLASSES, "matrix": matrix.tolist()}
    png = (tmp_path / "confusion_test.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["confusion_png"].endswith("confusion_test.png")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
