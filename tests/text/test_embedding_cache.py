"""The embedding cache: reuse, staleness by text hash, encoder mismatch, atomic writes."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from gspmc.errors import DataError
from gspmc.text.cache import (
    EmbeddingCache,
    default_cache_path,
    load_cache,
    save_cache,
    text_hash,
    update_cache,
)

TEXTS = ["Fist circles over fist.", "Flat hand on chest.", "Index finger points up."]


def test_text_hash_is_sha256_of_utf8():
    assert text_hash("çay 茶") == hashlib.sha256("çay 茶".encode()).hexdigest()


def test_default_path_is_next_to_store(tmp_path, hash_encoder):
    assert default_cache_path(tmp_path / "d" / "asl.jsonl", hash_encoder) == tmp_path / "d" / "asl.hash.emb.npz"


def test_build_then_reuse(tmp_path, hash_encoder):
    path = tmp_path / "c.emb.npz"
    cache, rep = update_cache(TEXTS + [TEXTS[0]], hash_encoder, path, source="s.jsonl")
    assert (rep.total, rep.reused, rep.embedded, rep.dropped, rep.written) == (3, 0, 3, 0, True)
    assert hash_encoder.seen == TEXTS  # each distinct text embedded once
    assert cache.embeddings.shape == (3, 32) and cache.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(cache.embeddings, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(cache.lookup([TEXTS[1]]), hash_encoder.encode([TEXTS[1]]), rtol=1e-6)

    before = path.stat().st_mtime_ns
    hash_encoder.seen.clear()
    cache2, rep2 = update_cache(list(reversed(TEXTS)), hash_encoder, path)
    assert hash_encoder.seen == [] and rep2.embedded == 0 and rep2.reused == 3
    # order differs -> rewritten in the new order, but nothing re-embedded
    assert rep2.written and path.stat().st_mtime_ns >= before
    np.testing.assert_array_equal(cache2.lookup(TEXTS), cache.lookup(TEXTS))

    _, rep3 = update_cache(list(reversed(TEXTS)), hash_encoder, path)
    assert not rep3.written and "up to date" in rep3.summary()


def test_changed_and_new_texts_embedded_stale_rows_dropped(tmp_path, hash_encoder):
    path = tmp_path / "c.emb.npz"
    update_cache(TEXTS, hash_encoder, path)
    hash_encoder.seen.clear()
    new = [TEXTS[0], "Index finger points up!", "Both palms push forward."]  # one changed, one new, one gone
    cache, rep = update_cache(new, hash_encoder, path)
    assert hash_encoder.seen == new[1:]
    assert (rep.total, rep.reused, rep.embedded, rep.dropped) == (3, 1, 2, 2)
    assert cache.missing(TEXTS) == TEXTS[1:]
    reloaded = load_cache(path)
    assert reloaded.hashes.tolist() == [text_hash(t) for t in new]
    assert reloaded.meta["encoder"] == hash_encoder.id and reloaded.meta["count"] == 3


def test_other_encoder_is_an_error_and_keeps_the_file(tmp_path, hash_encoder):
    path = tmp_path / "c.emb.npz"
    update_cache(TEXTS, hash_encoder, path)
    before = path.read_bytes()
    hash_encoder.version = "2"  # a new model version has another id
    with pytest.raises(DataError, match="built with encoder 'test-hash@1', not 'test-hash@2'") as err:
        update_cache(TEXTS, hash_encoder, path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == before
    cache, rep = update_cache(TEXTS, hash_encoder, path, rebuild=True)
    assert rep.rebuilt and rep.embedded == 3 and cache.encoder_id == "test-hash@2"
    assert load_cache(path).encoder_id == "test-hash@2"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, hash_encoder, monkeypatch):
    path = tmp_path / "c.emb.npz"
    update_cache(TEXTS, hash_encoder, path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    import gspmc.io

    monkeypatch.setattr(gspmc.io.os, "replace", boom)  # the project's one atomic-write helper
    with pytest.raises(DataError, match="cannot write the embedding cache.*disk full"):
        update_cache(TEXTS + ["A new text."], hash_encoder, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.emb.npz"]


def test_corrupt_or_inconsistent_cache_is_a_clear_error(tmp_path, hash_encoder):
    path = tmp_path / "c.emb.npz"
    path.write_bytes(b"not an npz")
    with pytest.raises(DataError, match="unreadable embedding cache") as err:
        load_cache(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="unreadable"):
        update_cache(TEXTS, hash_encoder, path)
    _, rep = update_cache(TEXTS, hash_encoder, path, rebuild=True)  # --rebuild recovers
    assert rep.embedded == 3

    bad = EmbeddingCache("x", np.asarray(["a", "a"]), np.zeros((2, 4), np.float32))
    save_cache(path, bad)
    with pytest.raises(DataError, match="repeated text hashes"):
        load_cache(path)
    with pytest.raises(DataError, match="embedding cache not found"):
        load_cache(tmp_path / "missing.npz")


def test_lookup_of_unknown_text_says_stale(tmp_path, hash_encoder):
    cache, _ = update_cache(TEXTS, hash_encoder, tmp_path / "c.npz")
    with pytest.raises(DataError, match="stale"):
        cache.lookup(["never embedded"])
