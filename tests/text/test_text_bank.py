"""TextBank: alignment by gloss name, classes without texts, stale/mismatched caches."""

from __future__ import annotations

import numpy as np
import pytest

from gspmc.errors import ConfigError, DataError
from gspmc.text.bank import load_text_bank, match_classes
from gspmc.text.cache import default_cache_path, update_cache
from gspmc.text.descriptions import read_store_texts


@pytest.fixture
def store(make_store, rec):
    # store order differs from the dataset's; "idle" is failed, "muffin" is extra, "thank_you" needs normalising
    return make_store([
        rec("tea", glob=["Tea global."], syn=["Tea syn 1.", "Tea syn 2."], right_hand=["Tea right."]),
        rec("muffin", glob=["Muffin global."]),
        rec("thank_you", glob=["Thank global."], face=["Smile."], mouth=["Smile."]),
        rec("coffee", glob=["Coffee global 1.", "Coffee global 2."], right_hand=["Coffee right."],
            left_hand=["Coffee left."]),
        rec("idle", status="failed"),
    ])


CLASSES = ["coffee", "please", "tea", "thank-you", "idle"]


def test_bank_aligns_by_name_not_position(store, hash_encoder, caplog):
    with caplog.at_level("WARNING", logger="gspmc.text.bank"):
        bank = load_text_bank(store, CLASSES, hash_encoder)
    assert "2 of 5 classes have no description" in caplog.text and "'please', 'idle'" in caplog.text
    g = bank.kinds["global"]
    assert g.texts == ("Coffee global 1.", "Coffee global 2.", "Tea global.", "Thank global.")
    assert g.labels.tolist() == [0, 0, 2, 3]
    np.testing.assert_allclose(g.embeddings, hash_encoder.encode(list(g.texts)), rtol=1e-6)
    assert bank.kinds["synonym"].labels.tolist() == [2, 2]
    assert bank.kinds["right_hand"].texts == ("Coffee right.", "Tea right.")
    assert bank.kinds["right_hand"].labels.tolist() == [0, 2]
    assert bank.kinds["face"].labels.tolist() == [3] and bank.kinds["mouth"].labels.tolist() == [3]
    assert bank.missing_classes == ("please",)
    assert bank.failed_classes == ("idle",)
    assert bank.extra_glosses == ("muffin",)
    assert bank.renamed == {"thank-you": "thank_you"}
    assert bank.classes_without("global") == ["please", "idle"]
    assert bank.classes_without("synonym") == ["coffee", "please", "thank-you", "idle"]
    report = bank.report()
    assert "classes not in the store: 'please'" in report and "'muffin'" in report and "'thank-you'->'thank_you'" in report
    assert bank.dim == 32 and bank.encoder_id == hash_encoder.id
    # the cache was written next to the store, once
    assert default_cache_path(store, hash_encoder).is_file()


def test_bank_uses_cache_without_encoding_again(store, hash_encoder):
    load_text_bank(store, CLASSES, hash_encoder)
    hash_encoder.seen.clear()
    bank = load_text_bank(store, list(reversed(CLASSES)), hash_encoder, embed_missing=False)
    assert hash_encoder.seen == []
    assert bank.kinds["global"].labels.tolist() == [1, 2, 4, 4]  # reversed class order -> new labels by name


def test_stale_or_foreign_cache_without_embedding_is_an_error(store, make_store, rec, hash_encoder, tmp_path):
    cache = tmp_path / "c.npz"
    update_cache(read_store_texts(store).all_texts()[:-1], hash_encoder, cache)
    with pytest.raises(DataError, match="stale"):
        load_text_bank(store, CLASSES, hash_encoder, cache=cache, embed_missing=False)
    hash_encoder.version = "9"
    with pytest.raises(DataError, match="built with encoder"):
        load_text_bank(store, CLASSES, hash_encoder, cache=cache, embed_missing=False)
    with pytest.raises(DataError, match="built with encoder"):
        load_text_bank(store, CLASSES, hash_encoder, cache=cache, embed_missing=True)


def test_match_classes_rules():
    m, renamed = match_classes(["A b", "c", "d-e", "x"], ["a_b", "c", "D E", "d e", "y"])
    assert m == {0: "a_b", 1: "c"}  # "d-e" is ambiguous ("D E" and "d e"): not matched
    assert renamed == {"A b": "a_b"}
    with pytest.raises(ConfigError, match="duplicate"):
        match_classes(["a", "a"], ["a"])


def test_cross_class_similarity_hand_computed():
    from gspmc.text.bank import KindBank

    s = 1 / np.sqrt(2)
    emb = np.array([[1, 0, 0], [s, s, 0], [1, 0, 0], [0, 0, 1]], np.float32)  # rows L2-normalised
    kb = KindBank(emb, np.array([0, 0, 1, 2]), ("a0", "a1", "b0", "c0"))
    mean, pairs = kb.cross_class_similarity(threshold=0.9)
    # different-class pairs (unordered): a0-b0 1, a0-c0 0, a1-b0 s, a1-c0 0, b0-c0 0
    assert mean == pytest.approx((1 + 0 + s + 0 + 0) / 5)
    assert pairs == [(0, 1, pytest.approx(1.0))]
    assert kb.cross_class_similarity(threshold=0.5)[1] == [(0, 1, pytest.approx(1.0))]  # best pair per classes
    one = KindBank(emb[:2], np.array([0, 0]), ("a0", "a1"))
    m1, p1 = one.cross_class_similarity()
    assert m1 != m1 and p1 == []  # nan: a single class has no cross-class pairs


def test_separability_hand_computed():
    from gspmc.text.bank import KindBank

    s = 1 / np.sqrt(2)
    emb = np.array([[1, 0, 0], [s, s, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    kb = KindBank(emb, np.array([0, 0, 1, 2]), ("a0", "shared", "shared", "c0"))
    sep = kb.separability(["a", "b", "c"])
    assert sep["texts"] == 4 and sep["classes"] == 3
    assert sep["mean_cross_cosine"] == pytest.approx((1 + 0 + s + 0 + 0) / 5, abs=1e-4)
    assert sep["max_cross_cosine"] == pytest.approx(1.0) and sep["max_pair"] == ["a", "b"]
    assert sep["pairs_at_threshold"] == [["a", "b", pytest.approx(1.0)]]
    assert sep["shared_texts"] == {"shared": ["a", "b"]}
    # for each text the closest text of ANOTHER class: a0 -> b 1, shared(a) -> b s, shared(b) -> a0 1, c0 -> 0
    assert sep["mean_nearest_other"] == pytest.approx((1 + s + 1 + 0) / 4, abs=1e-4)


def test_recognition_figures_hand_computed():
    """Within-class cosine, within-cross gap and leave-one-out nearest-text accuracy on 5 texts of 3 classes."""
    from gspmc.text.bank import KindBank

    emb = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0, 1], [0, 0.6, 0.8]], np.float32)
    kb = KindBank(emb, np.array([0, 0, 1, 2, 2]), ("t0", "t1", "t2", "t3", "t4"))
    r = kb.recognition_figures()
    # same-class pairs: t0~t1 0.6, t3~t4 0.8; cross pairs sum 0.8 + 0.48 + 0.6 = 1.88 over 8 pairs
    assert r["mean_within_class"] == pytest.approx(0.7, abs=1e-4)
    assert r["within_cross_gap"] == pytest.approx(0.7 - 1.88 / 8, abs=1e-4)
    # closest other text: t0 -> t1 (same), t1 -> t2 0.8 (other class), t3 -> t4, t4 -> t3; t2 has no partner
    assert r["nearest_text_accuracy"] == pytest.approx(0.75)
    assert kb.separability(["a", "b", "c"])["nearest_text_accuracy"] == pytest.approx(0.75)  # part of the report


def test_centred_nearest_other_removes_the_shared_direction():
    """Three one-text classes e_k = (3c + d_k)/sqrt(10), c orthogonal to the orthonormal d_k: every raw cosine is
    0.9, but centred they are the three corners of a triangle around the origin, cosine -1/2."""
    from gspmc.text.bank import KindBank

    c, d = np.array([0, 0, 0, 1.0]), np.eye(4)[:3]
    emb = ((3 * c + d) / np.sqrt(10)).astype(np.float32)
    kb = KindBank(emb, np.array([0, 1, 2]), ("x", "y", "z"))
    sep = kb.separability(["x", "y", "z"])
    assert sep["mean_cross_cosine"] == pytest.approx(0.9, abs=1e-4)
    assert sep["mean_nearest_other"] == pytest.approx(0.9, abs=1e-4)
    assert sep["centred_nearest_other"] == pytest.approx(-0.5, abs=1e-4)
    assert sep["mean_within_class"] is None and sep["nearest_text_accuracy"] is None  # one text per class


def test_bank_separability_pools_global_and_synonyms(store, hash_encoder):
    """``global+synonym``: the synonyms are same-class partners of the global texts."""
    from gspmc.text.bank import POOLED_KIND, format_separability

    bank = load_text_bank(store, CLASSES, encoder=hash_encoder)
    sep = bank.separability()
    pooled = sep[POOLED_KIND]
    assert pooled["texts"] == len(bank.kinds["global"]) + len(bank.kinds["synonym"])  # no text is in both kinds
    assert pooled["classes"] == 3  # coffee, tea, thank-you
    assert pooled["mean_within_class"] is not None  # tea and coffee have two texts
    assert set(sep) == set(bank.kinds) | {POOLED_KIND}
    assert "| global+synonym |" in format_separability(sep)
