"""Knowledge-base ingestion: ASL-LEX rendering, generic formats, chunking, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gspmc.describe.asllex import handshape_phrase, load_key_labels, read_asllex
from gspmc.describe.kb import builtin_path, chunk_text, load_entries, resolve_sources
from gspmc.errors import DataError


@pytest.fixture(scope="module")
def asllex(shared_data: Path) -> dict:  # noqa: ANN001
    return {e.id: e for e in read_asllex(shared_data / "kb" / "asl-lex" / "signdata-11-5-20.csv")}


def test_asllex_one_entry_per_sign(asllex: dict) -> None:
    assert len(asllex) == 2723  # 2723 rows; 4 repeated EntryIDs get "#2" ids
    assert "asl-lex:bite#2" in asllex


def test_asllex_coffee_entry_renders_the_coding(asllex: dict) -> None:
    e = asllex["asl-lex:coffee"]
    # coded: Handshape s, SignType AsymmetricalSameHandshape, Movement Circular, repeated,
    # MajorLocation Hand, MinorLocation FingerRadial, Contact 1, NonDominantHandshape s
    assert e.headwords[0] == "coffee" and "drink" in e.headwords
    assert "Handshape (right hand): S handshape (fist with the thumb closed" in e.text
    assert "Path Movement: the right hand moves in a circle, repeated." in e.text  # key-file label
    assert "Minor Location: the thumb side of the left hand's fingers." in e.text
    assert "Sign Type: two-handed sign; both hands have the same handshape, only the right hand moves." in e.text
    assert "Nondominant Handshape (left hand): S handshape" in e.text
    assert e.terms["movement"][0] == "circle" and "fist" in e.terms["handshape"]
    assert e.parts["left_hand"] == ("The left hand is held still in the S handshape (fist with the thumb closed "
                                    "across the front of the fingers).",)
    assert "face" not in e.parts and "mouth" not in e.parts


def test_asllex_head_and_mouth_locations_give_face_and_mouth_parts(asllex: dict) -> None:
    water = asllex["asl-lex:water"]  # W handshape at the chin
    assert water.parts["face"] == ("The right hand is at the chin.",)
    assert water.terms["location"] == ("chin",)
    mouth = [e for e in asllex.values() if "Minor Location: the mouth." in e.text]
    assert mouth and all("mouth" in e.parts for e in mouth)


def test_key_labels_are_read(shared_data: Path) -> None:
    labels = load_key_labels(shared_data / "kb" / "asl-lex" / KEY)
    assert labels["Movement.2.0"] == "Path Movement" and labels["UlnarRotation.2.0"] == "Wrist Twist"


KEY = "signdataKEYfnl.csv"


def test_asllex_without_key_uses_builtin_labels(tmp_path: Path) -> None:
    cols = ["EntryID", "LemmaID", "Handshape.2.0", "MajorLocation.2.0", "MinorLocation.2.0", "Movement.2.0",
            "SignType.2.0", "Contact.2.0"]
    path = tmp_path / "mini.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["think", "think", "1", "Head", "Forehead", "Straight", "OneHanded", "1"])
    (e,) = read_asllex(path)
    assert e.id == "asl-lex:think"
    assert e.description == ("The right hand forms the 1 handshape (index finger extended, other fingers closed) "
                             "and moves in a straight line at the forehead, touching it.")
    assert "Path Movement:" in e.text and e.parts["face"] == ("The right hand is at the forehead.",)
    assert handshape_phrase("nonsense_shape") == "NONSENSE SHAPE handshape"


def test_generic_formats(tmp_path: Path) -> None:
    (tmp_path / "dict.md").write_text("# Intro\nGeneral text.\n\n## HELLO (greeting)\nFlat hand from the forehead "
                                      "outward.\n\n## Thank-You\nFlat hand from the chin forward.\n")
    (tmp_path / "dict.csv").write_text("gloss,handshape,location\ncoffee,S,on the other hand\n")
    (tmp_path / "dict.jsonl").write_text(json.dumps({"gloss": "tea", "text": "F hand stirs.", "aliases": ["Chai"]})
                                         + "\n")
    (tmp_path / "notes.txt").write_text("para one.\n\npara two.")
    entries = {e.id: e for e in load_entries(resolve_sources([str(tmp_path)]))}
    # files in sorted order: dict.csv -> "dict", dict.jsonl -> "dict-2", dict.md -> "dict-3"
    assert entries["dict-3:s1c0"].headwords == ("intro",)
    assert entries["dict-3:s2c0"].headwords == ("hello",)
    assert entries["dict-3:s2c0"].text == "HELLO (greeting): Flat hand from the forehead outward."
    assert entries["dict-3:s3c0"].headwords == ("thank you",)
    assert entries["dict:2"].text == "coffee: handshape: S; location: on the other hand"
    assert entries["dict-2:tea"].headwords == ("tea", "chai")
    assert entries["notes:c0"].text == "para one. para two." and entries["notes:c0"].headwords == ()


def test_chunking_respects_the_limit() -> None:
    text = "\n\n".join(["word " * 30] * 5)  # 5 paragraphs of 150 chars
    chunks = chunk_text(text, max_chars=320)
    assert [len(c) for c in chunks] == [299, 299, 149]
    long = "x" * 700
    assert [len(c) for c in chunk_text(long, max_chars=300)] == [300, 300, 100]


def test_builtin_alphabet_has_every_letter() -> None:
    entries = load_entries([builtin_path("asl-alphabet")])
    assert [e.headwords[0] for e in entries] == list("abcdefghijklmnopqrstuvwxyz")
    j = entries[9]
    assert "traces a J" in j.text and "movement" in j.terms and "movement" not in entries[0].terms


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="knowledge source not found"):
        resolve_sources([str(tmp_path / "missing")])
    (tmp_path / "x.pdf").write_text("x")
    with pytest.raises(DataError, match="unsupported knowledge file type"):
        resolve_sources([str(tmp_path / "x.pdf")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"gloss": "a", "text": "x"}\nnot json\n')
    with pytest.raises(DataError, match="bad.jsonl: line 2: not valid JSON"):
        load_entries([bad])
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("foo,bar\n1,2\n")
    with pytest.raises(DataError, match="needs a headword column"):
        load_entries([nohead])
    with pytest.raises(DataError, match="unknown builtin"):
        resolve_sources(["builtin:nope"])
