"""Hybrid retrieval: fusion arithmetic, the persistent cache, and quality on ASL-LEX."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from gspmc.describe.kb import resolve_sources
from gspmc.describe.retrieval import RRF_K, open_index, tokenize


def test_fused_score_is_weighted_rrf(tiny_index) -> None:  # noqa: ANN001
    (top, *_rest) = tiny_index.search("coffee", k=3, gloss="coffee")
    assert top.entry.id == "tiny-dictionary:coffee" and top.headword == "name"
    assert top.lexical_rank == 1  # the only entry containing the token "coffee"
    expected = 3.0 / (RRF_K + 1) + 1.0 / (RRF_K + 1) + 1.0 / (RRF_K + top.dense_rank)
    assert top.score == pytest.approx(expected)
    # an alias is a headword too, ranked as a translation
    alias = tiny_index.search("java", k=1, gloss="java")[0]
    assert alias.entry.id == "tiny-dictionary:coffee" and alias.headword == "translation"
    # without a gloss there is no headword channel; with all channels off nothing is returned
    assert all(h.headword is None for h in tiny_index.search("coffee", k=3))
    assert tiny_index.search("coffee", k=3, gloss="coffee", weights={"dense": 0, "lexical": 0, "headword": 0}) == []


def test_tokenize_latin_and_chinese() -> None:
    assert tokenize("Don't TAP the chin-twice") == ["dont", "tap", "the", "chin", "twice"]
    assert tokenize("情况 hand 5") == ["情", "况", "hand", "5"]
    assert tokenize("çay içmek") == ["çay", "içmek"]


def test_headword_search_takes_several_names(tiny_index) -> None:  # noqa: ANN001
    hits = tiny_index.search("kahve", k=1, gloss=["kahve", "coffee"])
    assert hits[0].entry.id == "tiny-dictionary:coffee" and hits[0].headword == "name"
    assert tiny_index.headword_search(["java", "coffee"]) == [(0, "name")]


def test_free_text_query_finds_the_entry(tiny_index) -> None:  # noqa: ANN001
    hits = tiny_index.search("a hand taps the chin", k=3)
    assert hits[0].entry.id == "tiny-dictionary:water"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_index_is_cached_and_keyed_by_content(tiny_kb: Path, encoder, tmp_path: Path,  # noqa: ANN001
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    files = resolve_sources([str(tiny_kb)])
    first = open_index(files, tmp_path / "idx", encoder=encoder, progress=False)
    assert first.path is not None and (first.path / "meta.json").is_file()

    def no_rebuild(*a: object, **k: object) -> None:
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr("gspmc.describe.retrieval.load_entries", no_rebuild)
    again = open_index(files, tmp_path / "idx", encoder=encoder, progress=False)
    assert again.path == first.path and [e.id for e in again.entries] == [e.id for e in first.entries]
    assert again.search("tea", k=1, gloss="tea")[0].entry.id == "tiny-dictionary:tea"
    monkeypatch.undo()
    tiny_kb.write_text(tiny_kb.read_text().replace("twice", "two times"))
    changed = open_index(files, tmp_path / "idx", encoder=encoder, progress=False)
    assert changed.key != first.key and changed.path != first.path


@pytest.mark.slow
def test_asllex_gloss_retrieves_its_own_entry(shared_data: Path, encoder, tmp_path: Path) -> None:  # noqa: ANN001
    """A seeded sample of 150 ASL-LEX signs, indexed together; each gloss queries the index."""
    src = shared_data / "kb" / "asl-lex"
    with (src / "signdata-11-5-20.csv").open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), reader.fieldnames
    pick = np.random.default_rng(0).choice(len(rows), size=150, replace=False)
    kb = tmp_path / "asl-lex"
    kb.mkdir()
    with (kb / "signdata.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows[i] for i in sorted(pick))
    shutil.copy(src / "signdataKEYfnl.csv", kb / "signdataKEYfnl.csv")
    index = open_index(resolve_sources([str(kb)]), tmp_path / "idx", encoder=encoder, progress=False)
    assert len(index) == 150
    vecs = encoder.encode([e.headwords[0] for e in index.entries])  # (150, 384), one batch
    assert np.allclose(vecs[0], encoder.encode([index.entries[0].headwords[0]])[0], atol=1e-5)
    rates = {}
    for name, weights in {"fused": {}, "dense+bm25": {"headword": 0}, "dense": {"lexical": 0, "headword": 0}}.items():
        hits = sum(index.search(e.headwords[0], k=1, gloss=e.headwords[0], weights=weights, query_vec=v)[0]
                   .entry.headwords[0] == e.headwords[0] for e, v in zip(index.entries, vecs, strict=True))
        rates[name] = hits / len(index)
    print(f"ASL-LEX sample (150 signs) rank-1 own-entry hit rate: {rates}")
    assert rates["fused"] >= 0.97
    assert rates["dense+bm25"] >= 0.8
    assert rates["dense"] >= 0.5
