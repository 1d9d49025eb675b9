"""Class list files -> class names in label order (data.options.class_names), every format datasets ship."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gspmc.data.readers._common import read_class_names
from gspmc.data.registry import class_list_path
from gspmc.errors import DataError


def test_each_format_in_label_order(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("情况\n\n出生\n", encoding="utf-8")
    assert read_class_names(tmp_path / "g.txt") == ["情况", "出生"]
    (tmp_path / "w.tsv").write_text("0\tbook\n1\tdrink\n2\tcomputer\n")
    assert read_class_names(tmp_path / "w.tsv") == ["book", "drink", "computer"]
    (tmp_path / "a.csv").write_text("ClassId,TR,EN\n0,abla,sister\n1,acele,hurry\n")
    assert read_class_names(tmp_path / "a.csv") == ["abla", "acele"]  # the Turkish key of the AUTSL store
    (tmp_path / "h.csv").write_text("id,gloss\n0,coffee\n1,tea\n")
    assert read_class_names(tmp_path / "h.csv") == ["coffee", "tea"]
    (tmp_path / "m.json").write_text(json.dumps({"zebra": 2, "TV": 0, "after": 1}))
    assert read_class_names(tmp_path / "m.json") == ["TV", "after", "zebra"]  # by label index, not by name


def test_bad_class_lists_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(DataError, match=r"dup.txt.*names \['a'\] more than once"):
        read_class_names(tmp_path / "dup.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty.txt.*the class list is empty"):
        read_class_names(tmp_path / "empty.txt")
    (tmp_path / "odd.csv").write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match="odd.csv.*expected id<TAB>name rows"):
        read_class_names(tmp_path / "odd.csv")
    with pytest.raises(DataError, match="cannot read the class list"):
        read_class_names(tmp_path / "missing.txt")


def test_relative_class_lists_are_found_under_the_data_folder(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "x.txt").write_text("a\n")
    monkeypatch.setenv("GSPMC_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path / "vocab")
    assert class_list_path("x.txt") == Path("x.txt")  # exists where it is given
    assert class_list_path("vocab/x.txt") == tmp_path / "vocab" / "x.txt"  # else under GSPMC_DATA


@pytest.mark.shared_data
def test_the_shared_class_lists_match_the_stores(shared_data: Path) -> None:
    """The shipped stores are keyed by these names, so `data.options.class_names` aligns their texts."""
    from gspmc.paths import package_path

    def glosses(store: str) -> list[str]:
        lines = package_path("descriptions", store).read_text(encoding="utf-8").splitlines()[1:]
        return [json.loads(line)["gloss"] for line in lines if line.strip()]

    slr = read_class_names(shared_data / "vocab" / "slr500_gloss_label.txt")
    assert len(slr) == 500 and glosses("slr500.claude.jsonl") == slr
    wlasl = read_class_names(shared_data / "vocab" / "wlasl2000_class_list.tsv")
    assert len(wlasl) == 2000 and glosses("wlasl300.claude.jsonl") == wlasl[:300]
    autsl = read_class_names(shared_data / "vocab" / "autsl226_TR_EN.csv")
    assert len(autsl) == 226 and glosses("autsl226.claude.jsonl") == autsl
    gislr = read_class_names(shared_data / "vocab" / "gislr250_sign_to_prediction_index_map.json")
    assert len(gislr) == 250 and glosses("gislr250.claude.jsonl") == gislr


def test_load_dataset_names_numeric_labels_from_the_class_list(tmp_path: Path) -> None:
    """SAM-SLR-style per-video .npy files labelled by number get their names from the class list."""
    import numpy as np

    from gspmc.data.registry import load_dataset
    from gspmc.errors import ConfigError

    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        arr = rng.uniform(0, 1, (6, 133, 3)).astype(np.float32)
        arr[..., 2] = 1.0
        np.save(tmp_path / f"v{i}.npy", arr)
        rows.append(f"v{i},{i % 2}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "classes.tsv").write_text("0\tbook\n1\tdrink\n2\tcomputer\n")
    clips = load_dataset(tmp_path, format="wholebody", labels=tmp_path / "labels.csv",
                         class_names=tmp_path / "classes.tsv", class_count=2)
    assert clips.classes == ["book", "drink"] and [clips.classes[s.label] for s in clips.samples] == [
        "book", "drink", "book", "drink"]
    with pytest.raises(ConfigError, match="class_count 9: the class list has 3 names"):
        load_dataset(tmp_path, format="wholebody", labels=tmp_path / "labels.csv",
                     class_names=tmp_path / "classes.tsv", class_count=9)
