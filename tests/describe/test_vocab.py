"""Vocabulary readers on the real class lists in ../shared/data/vocab and on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from gspmc.describe.vocab import VocabEntry, read_vocab
from gspmc.errors import DataError


def test_traduttore_classes(shared_data: Path) -> None:
    vocab = read_vocab(shared_data / "traduttore_asl33.npz")
    assert len(vocab) == 33
    by = {v.gloss: v for v in vocab}
    assert by["a"].query == "letter A" and by["thank-you"].query == "thank you" and by["-"].query == "-"


def test_autsl(shared_data: Path) -> None:
    vocab = read_vocab(shared_data / "vocab" / "autsl226_TR_EN.csv")
    assert len(vocab) == 226
    assert vocab[0] == VocabEntry("abla", "sister", "Turkish Sign Language class abla")
    assert vocab[3].query == "enjoy your meal"


def test_slr500_keys_by_chinese_word(shared_data: Path) -> None:
    en = read_vocab(shared_data / "vocab" / "slr500_normalized_glosses_EN.csv")
    zh = read_vocab(shared_data / "vocab" / "slr500_gloss_label.txt")
    assert len(en) == len(zh) == 500
    assert [v.gloss for v in en] == [v.gloss for v in zh]  # same keys, same order
    assert en[0] == VocabEntry("情况", "condition", "Chinese: 情况")
    assert en[2].query == en[3].query == "situation"  # English labels repeat; keys do not


def test_wlasl_and_lsa64(shared_data: Path) -> None:
    wlasl = read_vocab(shared_data / "vocab" / "wlasl2000_class_list.tsv")
    assert len(wlasl) == 2000 and wlasl[0].gloss == "book"
    lsa = read_vocab(shared_data / "vocab" / "lsa64_signs_EN.md")
    assert len(lsa) == 64
    assert lsa[0] == VocabEntry("Opaque", "opaque", "It is a one-handed sign.")
    assert lsa[28].hint == "It is a two-handed sign."


def test_plain_list_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "classes.txt"
    p.write_text("coffee\n\nb\ntea\n")
    assert [(v.gloss, v.query) for v in read_vocab(p)] == [("coffee", "coffee"), ("b", "letter B"), ("tea", "tea")]
    p.write_text("coffee\ncoffee\n")
    with pytest.raises(DataError, match="classes.txt.*'coffee' appears twice"):
        read_vocab(p)
    q = tmp_path / "x.csv"
    q.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="x.csv: unknown vocabulary CSV header"):
        read_vocab(q)
    with pytest.raises(DataError, match="not found"):
        read_vocab(tmp_path / "missing.txt")
    r = tmp_path / "v.yaml"  # .json is the GISLR index map
    r.write_text("[]")
    with pytest.raises(DataError, match="unknown vocabulary format"):
        read_vocab(r)


def test_gislr_index_map(shared_data: Path, tmp_path: Path) -> None:
    vocab = read_vocab(shared_data / "vocab" / "gislr250_sign_to_prediction_index_map.json")
    assert len(vocab) == 250 and vocab[0] == VocabEntry("TV", "TV") and vocab[1].gloss == "after"
    by = {v.gloss: v for v in vocab}
    assert by["thankyou"].query == "thank you" and by["hesheit"].query == "he she it" and by["zipper"].query == "zipper"
    mixed = tmp_path / "map.json"
    mixed.write_text('{"b": 1, "a": 2, "c": 0}')
    assert [v.gloss for v in read_vocab(mixed)] == ["c", "b", "a"]  # class order is the index, not the file
    for text, why in [('{"a": 0, "b": 0}', "given to both 'a' and 'b'"), ('{"a": 0, "b": 2}', "missing [1]"),
                      ('{"a": "0"}', "must be integers"), ('["a"]', "non-empty JSON object"), ("{", "not valid JSON")]:
        mixed.write_text(text)
        with pytest.raises(DataError, match=why.replace("[", r"\[").replace("]", r"\]")):
            read_vocab(mixed)
