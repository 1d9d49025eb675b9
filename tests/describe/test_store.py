"""The description store: format, atomic incremental writes, resume keys, corrupt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gspmc.describe.entry import PARTS
from gspmc.describe.store import Description, StoreWriter, load_store, new_header
from gspmc.errors import DataError


def desc(gloss: str, status: str = "ok", model: str = "m", th: str = "h1") -> Description:
    return Description(gloss, status, [f"{gloss} global"] if status == "ok" else [], [f"{gloss} syn"],
                       {p: ([f"{gloss} {p}"] if p == "right_hand" else []) for p in PARTS},
                       {"backend": "local", "model": model, "template_hash": th, "kb_hit": gloss != "muffin"})


def test_round_trip_and_format(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    w = StoreWriter(path, new_header(vocab="v.txt"))
    w.put(desc("coffee"))
    w.put(desc("muffin", "failed"))
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "gspmc-descriptions" and header["version"] == 1
    assert header["parts"] == list(PARTS)
    assert header["kb_hit_glosses"] == ["coffee"] and header["kb_miss_glosses"] == ["muffin"]
    rec = json.loads(lines[1])
    assert rec["global"] == ["coffee global"] and rec["parts"]["right_hand"] == ["coffee right_hand"]
    store = load_store(path)
    assert store.glosses == ["coffee", "muffin"]
    assert store.get("coffee").to_json() == desc("coffee").to_json()
    assert store.get("muffin").status == "failed"
    assert store.get("tea") is None


def test_resume_keys_on_gloss_template_and_model(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    StoreWriter(path, new_header()).put(desc("coffee"))
    StoreWriter(path, new_header()).put(desc("muffin", "failed"))
    StoreWriter(path, new_header(created="t0")).flush()
    w = StoreWriter(path, new_header(created="t1"))
    assert w.header["created"] == "t0"  # a resumed store keeps its creation time
    assert w.done("coffee", "h1", "local", "m")
    assert not w.done("coffee", "h2", "local", "m")  # templates changed
    assert not w.done("coffee", "h1", "local", "other-model")
    assert not w.done("coffee", "h1", "openai", "m")
    assert not w.done("muffin", "h1", "local", "m")  # failed glosses are retried
    assert not w.done("tea", "h1", "local", "m")


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.jsonl"
    w = StoreWriter(path, new_header())
    w.put(desc("coffee"))
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("gspmc.describe.store.os.replace", boom)
    with pytest.raises(OSError):
        w.put(desc("tea"))
    assert path.read_bytes() == before  # the old complete file is still there
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty file"),
        ('{"format": "other"}\n', "not a 'gspmc-descriptions' header"),
        ('{"format": "gspmc-descriptions", "version": 1, "parts": []}\n{"gloss": "a", "status": "ok"\n',
         "line 2 is not valid JSON"),
        ('{"format": "gspmc-descriptions", "version": 1, "parts": []}\n{"gloss": "a", "status": "maybe"}\n',
         "line 2: 'status' must be one of"),
        ('{"format": "gspmc-descriptions", "version": 1, "parts": []}\n{"gloss": "a", "status": "ok"}\n'
         '{"gloss": "a", "status": "ok"}\n', "line 3: gloss 'a' appears twice"),
        ('{"format": "gspmc-descriptions", "version": 2, "parts": []}\n', "version 2 is not supported"),
    ],
)
def test_corrupt_store_gives_a_clear_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match="bad.jsonl") as err:
        load_store(path)
    assert problem in str(err.value)


def test_corrupt_store_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    StoreWriter(path, new_header()).put(desc("coffee"))
    good = path.read_bytes()
    broken = good[: len(good) - 20]  # a truncated last line
    path.write_bytes(broken)
    with pytest.raises(DataError, match="left untouched.*--force"):
        StoreWriter(path, new_header())
    assert path.read_bytes() == broken
    w = StoreWriter(path, new_header(), force=True)  # --force keeps the old bytes as a .bak
    assert w.backup is not None and w.backup.read_bytes() == broken
    assert not path.exists()
    w.put(desc("tea"))
    assert load_store(path).glosses == ["tea"]


def test_other_parts_convention_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    StoreWriter(path, new_header()).put(desc("coffee"))
    with pytest.raises(DataError, match="parts"):
        StoreWriter(path, new_header(parts=["hands"]))
    with pytest.raises(DataError, match="dominant-hand"):
        StoreWriter(path, new_header(dominant_hand="left"))
