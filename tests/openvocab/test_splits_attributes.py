"""Class splits hold out classes and signers; knowledge-base attributes are coded as documented."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gspmc.data.sample import ClipSet, Sample
from gspmc.errors import ConfigError, DataError
from gspmc.openvocab.attributes import (
    attribute_matrix,
    class_codes,
    kb_links,
    letter_codes,
    read_asllex_codes,
)
from gspmc.openvocab.splits import clip_indices, make_class_split, seen_clipset, seen_indices

# who recorded which class: 'b' only by the held-out signer, 'z' only by the others
RECORDED = {"-": "AB", "a": "AB", "b": "A", "can": "AB", "coffee": "ABC", "get": "BC", "hello": "AB", "no": "AC",
            "please": "AB", "tea": "AB", "medium": "AB", "z": "C"}
SIGNER = {"A": "held", "B": "other1", "C": "other2"}


def _clipset() -> ClipSet:
    classes = list(RECORDED)
    samples = []
    for label, cls in enumerate(classes):
        for who in RECORDED[cls]:
            for k in range(2):
                samples.append(Sample(coords=np.zeros((4, 27, 2), np.float32), mask=np.ones((4, 27), bool),
                                      layout="sam-slr-27", label=label, id=f"{cls}/{who}{k}", signer=SIGNER[who]))
    return ClipSet(samples=samples, classes=classes, layout="sam-slr-27", name="toy",
                   meta={"session": np.asarray([s.id for s in samples])})


def test_split_holds_out_classes_from_training_and_signers_from_test() -> None:
    clips = _clipset()
    split = make_class_split(clips, "held", 0, n_unseen=3, n_val=2)
    # pool: recorded by 'held' and by someone else, not idle, not excluded ('medium' by default)
    assert split.pool == ("a", "can", "coffee", "hello", "no", "please", "tea")
    assert len(split.unseen) == 3 and len(split.val_unseen) == 2
    assert not set(split.unseen) & set(split.val_unseen)
    assert not (set(split.unseen) | set(split.val_unseen)) & set(split.seen)
    # seen: every other class the training side recorded ('b' is the held-out signer's only: not seen)
    assert set(split.seen) == {"-", "get", "medium", "z", *(set(split.pool) - set(split.unseen) - set(split.val_unseen))}
    assert make_class_split(clips, "held", 0, n_unseen=3, n_val=2) == split  # seeded
    others = {make_class_split(clips, "held", s, n_unseen=3, n_val=2).unseen for s in range(6)}
    assert len(others) > 1  # seeds give different splits
    with pytest.raises(ConfigError, match="cannot give"):
        make_class_split(clips, "held", 0, n_unseen=6, n_val=2)


def test_seen_clipset_has_no_clip_of_an_unseen_class() -> None:
    clips = _clipset()
    split = make_class_split(clips, "held", 1, n_unseen=3, n_val=2)
    seen = seen_clipset(clips, split)
    assert seen.classes == list(split.seen)
    names = {seen.classes[s.label] for s in seen.samples}
    assert names == set(split.seen)
    idx = seen_indices(clips, split)
    assert [clips[i].id for i in idx] == [s.id for s in seen.samples]  # same clips, same order
    assert all(clips.classes[clips[i].label] == seen.classes[s.label] for i, s in zip(idx, seen.samples, strict=True))
    assert len(seen.meta["session"]) == len(seen)
    test = clip_indices(clips, split.unseen, "held", held_out=True)
    assert {clips[i].signer for i in test} == {"held"}
    assert {clips.classes[clips[i].label] for i in test} == set(split.unseen)
    support = clip_indices(clips, split.unseen, "held", held_out=False)
    assert "held" not in {clips[i].signer for i in support}


def test_letter_and_asllex_codes(tmp_path: Path) -> None:
    assert letter_codes("j")["Movement.2.0"] == "Curved" and letter_codes("j")["Handshape.2.0"] == "i"
    assert letter_codes("a") == {"SignType.2.0": "OneHanded", "Handshape.2.0": "a", "Movement.2.0": "None",
                                 "MajorLocation.2.0": "Neutral", "MinorLocation.2.0": "Neutral",
                                 "NonDominantHandshape.2.0": "NA", "Contact.2.0": "0", "RepeatedMovement.2.0": "0"}
    cols = ["EntryID", "SignType.2.0", "Handshape.2.0", "Movement.2.0", "MajorLocation.2.0", "MinorLocation.2.0",
            "NonDominantHandshape.2.0", "Contact.2.0", "RepeatedMovement.2.0"]
    rows = [["big", "SymmetricalOrAlternating", "bent_l", "Curved", "Neutral", "Neutral", "bent_l", "0", "0"],
            ["tea", "AsymmetricalDifferentHandshape", "f", "Circular", "Hand", "FingerRadial", "C", "1", "1"],
            ["tea", "OneHanded", "b", "None", "Head", "Chin", "NA", "0", "0"]]  # a second row of an EntryID: ignored
    csv = tmp_path / "signdata.csv"
    csv.write_text("\ufeff" + "\n".join(",".join(r) for r in [cols, *rows]) + "\n", encoding="utf-8")
    codes = read_asllex_codes(csv)
    assert codes["tea"]["Handshape.2.0"] == "f" and set(codes) == {"big", "tea"}
    store = tmp_path / "s.jsonl"
    recs = [{"gloss": "large", "provenance": {"kb_entry": "asl-lex:big"}},
            {"gloss": "tea", "provenance": {"kb_entry": "asl-lex:tea"}},
            {"gloss": "a", "provenance": {"kb_entry": "asl-manual-alphabet:letter-a"}},
            {"gloss": "muffin", "provenance": {"kb_hit": False}}]
    store.write_text("\n".join([json.dumps({"format": "gspmc-descriptions"})] + [json.dumps(r) for r in recs]) + "\n")
    links = kb_links(store)
    assert links == {"large": "asl-lex:big", "tea": "asl-lex:tea", "a": "asl-manual-alphabet:letter-a"}
    by_class = class_codes(["large", "tea", "a", "muffin"], links, codes)
    assert set(by_class) == {"large", "tea", "a"}  # muffin has no knowledge-base entry
    attrs, names = attribute_matrix(by_class, ["large", "tea", "a"])
    # 6 categorical columns x their distinct values among the 3 classes + 2 binary columns
    assert attrs.shape == (3, len(names))
    sign_type = [i for i, n in enumerate(names) if n.startswith("SignType.2.0=")]
    assert [names[i] for i in sign_type] == ["SignType.2.0=AsymmetricalDifferentHandshape", "SignType.2.0=OneHanded",
                                             "SignType.2.0=SymmetricalOrAlternating"]
    np.testing.assert_array_equal(attrs[:, sign_type], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert attrs[1, names.index("Contact.2.0")] == 1 and attrs[0, names.index("Contact.2.0")] == 0
    # every categorical block is one-hot: the attribute vector's squared norm = 6 + number of binary 1s
    np.testing.assert_allclose((attrs**2).sum(1), [6, 8, 6])
    with pytest.raises(DataError, match="muffin"):
        attribute_matrix(by_class, ["large", "muffin"])
