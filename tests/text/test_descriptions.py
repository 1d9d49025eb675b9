"""Reading description stores (the JSONL contract of docs/architecture.md) for the text side."""

from __future__ import annotations

import json

import pytest

from gspmc.errors import DataError
from gspmc.text.descriptions import read_store_texts


def test_reads_kinds_drops_failed_blank_and_duplicates(make_store, rec):
    path = make_store([
        rec("coffee", glob=["Fist circles over fist.", "Fist circles over fist.", "  "], syn=["Grind beans."],
            right_hand=["Right fist circles."], face=["Neutral face."]),
        rec("tea", status="failed"),
        rec("please", glob=["Flat hand circles on chest."]),
    ])
    st = read_store_texts(path)
    assert st.parts == ("left_hand", "right_hand", "body", "face", "mouth")
    assert st.kinds == ("global", "synonym", "left_hand", "right_hand", "body", "face", "mouth")
    assert list(st.texts) == ["coffee", "please"]
    assert st.failed == ("tea",)
    assert st.texts["coffee"]["global"] == ["Fist circles over fist."]
    assert st.texts["coffee"]["synonym"] == ["Grind beans."]
    assert st.texts["coffee"]["right_hand"] == ["Right fist circles."]
    assert st.texts["please"]["left_hand"] == []
    assert st.all_texts() == ["Fist circles over fist.", "Grind beans.", "Right fist circles.", "Neutral face.",
                              "Flat hand circles on chest."]


H = '{"format": "gspmc-descriptions", "version": 1, "parts": ["left_hand", "right_hand", "body", "face", "mouth"]}'


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "empty file"),
        ('{"format": "other", "version": 1}\n', "not a 'gspmc-descriptions' header"),
        ('{"format": "gspmc-descriptions", "version": 7, "parts": []}\n', "version 7 is not supported"),
        (H + '\n{not json\n', "line 2 is not valid JSON"),
        (H + '\n[1, 2]\n', "line 2: expected a JSON object"),
        (H + '\n{"status": "ok"}\n', "line 2: missing string field 'gloss'"),
        (H + '\n{"gloss": "a", "status": "done"}\n', "line 2: 'status' must be one of"),
        (H + '\n{"gloss": "a", "status": "ok"}\n{"gloss": "a", "status": "ok"}\n', "line 3: gloss 'a' appears twice"),
        (H + '\n{"gloss": "a", "status": "ok", "global": "text"}\n', "'global' must be a list"),
        ('{"format": "gspmc-descriptions", "version": 1, "parts": ["hand"]}\n'
         '{"gloss": "a", "status": "ok", "parts": {"leg": ["x"]}}\n', "gloss 'a': texts for parts ['leg']"),
        ('{"format": "gspmc-descriptions", "version": 1, "parts": ["global"]}\n', "clash with the kinds"),
    ],
)
def test_bad_store_names_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_store_texts(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_missing_store(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_store_texts(tmp_path / "nope.jsonl")


def test_custom_header_parts(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"format": "gspmc-descriptions", "version": 1, "parts": ["hands", "head"]}) + "\n"
                    + json.dumps({"gloss": "x", "status": "ok", "parts": {"hands": ["Both hands flat."]}}) + "\n",
                    encoding="utf-8")
    st = read_store_texts(path)
    assert st.kinds == ("global", "synonym", "hands", "head")
    assert st.texts["x"]["hands"] == ["Both hands flat."] and st.texts["x"]["head"] == []
