"""Guard rails: reply parsing and text checks on hand-made cases."""

from __future__ import annotations

import pytest

from gspmc.describe.entry import KBEntry
from gspmc.describe.validate import (
    ReplyError,
    check_part,
    check_text,
    contains_term,
    derive_terms,
    parse_reply,
)

SCHEMA = {"type": "object", "properties": {"description": {"type": "string", "maxLength": 30}},
          "required": ["description"], "additionalProperties": False}

COFFEE = KBEntry(
    id="t:coffee", source="t", text="COFFEE: right S hand circles on the left S hand.",
    terms={"handshape": ("s handshape", "fist"), "location": ("thumb side", "left hand"), "movement": ("circle", "circles")},
    parts={"right_hand": ("Right hand: a fist circling on the left fist.",),
           "left_hand": ("Left hand: a still fist, thumb side up.",)},
)


def test_parse_reply_accepts_fences_and_surrounding_text() -> None:
    assert parse_reply('```json\n{"description": "ok"}\n```', SCHEMA) == {"description": "ok"}
    assert parse_reply('Here: {"description": "ok"} done', SCHEMA) == {"description": "ok"}


@pytest.mark.parametrize(("reply", "message"), [
    ("no json here", "contains no JSON object"),
    ('{"description": "unterminated', "not valid JSON: Unterminated string"),
    ('{"description": "x",}', "not valid JSON"),
    ('{"description": 3}', "at description: 3 is not of type 'string'"),
    ('{"text": "x"}', "'description' is a required property"),
    ('{"description": "' + "x" * 31 + '"}', "is too long"),
])
def test_parse_reply_errors_say_what_is_wrong(reply: str, message: str) -> None:
    with pytest.raises(ReplyError, match=message):
        parse_reply(reply, SCHEMA)


def test_contains_term_is_whole_word() -> None:
    assert contains_term("The S-handshape moves", "s handshape")
    assert not contains_term("it's a fist", "s handshape")
    assert contains_term("a FIST.", "fist") and not contains_term("fistful", "fist")
    # singular and plural are one word; "little finger" is the pinky
    assert contains_term("two fists", "fist") and contains_term("one fist", "fists")
    assert contains_term("it brushes twice", "brush") and contains_term("both shoulders", "shoulder")
    assert contains_term("the little finger is raised", "pinky") and contains_term("pinky up", "little finger")
    assert contains_term("palm crosses", "cross") and not contains_term("glass", "glas")


def test_check_text_requires_every_key_term_group() -> None:
    good = "The right hand is a fist that circles on the thumb side of the left hand."
    assert check_text(good, COFFEE, "global") == []
    no_move = "The right hand is a fist resting on the thumb side of the left hand."
    assert check_text(no_move, COFFEE, "global") == ["drops the entry's movement terms"]
    assert check_text("john", COFFEE, "global")[0] == "too short (1 words < 8)"
    assert "names no articulator (hand, finger, palm, ...)" in check_text(
        "Coffee is a popular drink that many people enjoy every morning.", COFFEE, "global")
    looping = "the hand moves the hand moves the hand moves the hand moves in a circle fist thumb side left hand"
    assert "repeats itself" in check_text(looping, COFFEE, "global")
    assert "refusal or meta text" in check_text("I'm sorry, as an AI I cannot describe the hand sign here.",
                                                COFFEE, "global")


def test_check_text_without_entry_uses_lexicons() -> None:
    assert check_text("The flat right hand moves forward from the chin.", None, "global") == []
    assert check_text("The hand does something nice for the person here.", None, "global") == [
        "no handshape words", "no location or movement words"]


def test_check_part_agrees_with_the_entry() -> None:
    assert check_part("The right fist moves in a circle.", "right_hand", COFFEE) == []
    assert check_part("The right fist stays still.", "right_hand", COFFEE) == ["drops the entry's movement terms"]
    assert check_part("The face smiles.", "face", COFFEE) == ["the knowledge-base entry does not involve the face"]
    assert check_part("The mouth is held still in the S handshape.", "mouth", COFFEE)[0].startswith(
        "the knowledge-base entry does not involve")
    assert check_part("The left hand waves hello.", "left_hand", COFFEE) == [
        "shares no term with the entry's left hand text"]
    assert check_part("john", "right_hand", None) == ["too short (1 words < 3)"]
    assert check_part("The chest leans forward.", "right_hand", None) == ["says nothing about the right hand"]


def test_derive_terms_groups_lexicon_words() -> None:
    assert derive_terms("Flat hand taps the chin twice.") == {
        "handshape": ("flat",), "location": ("chin",), "movement": ("tap", "taps")}  # singular = plural
    assert derive_terms("Nothing relevant.") == {}


LETTER_A = KBEntry(
    id="t:a", source="t", text="Letter A: the right hand makes a fist, thumb up, in front of the right shoulder.",
    description="The right hand forms a fist with the thumb up in front of the right shoulder.",
    terms={"handshape": ("fist",), "location": ("shoulder",)},
    parts={"right_hand": ("Right hand: a fist, thumb up; held still.",),
           "body": ("The right hand is held in front of the right shoulder.",)},
)


def test_sides_must_agree_with_the_entry() -> None:
    assert check_part("The right hand makes a fist.", "right_hand", LETTER_A) == []
    assert check_part("The left hand makes a fist.", "right_hand", LETTER_A) == [
        "talks about the left hand, not the right hand"]
    assert check_part("The hand is held in front of the left shoulder.", "body", LETTER_A) == [
        "names the left side, which the entry does not"]
    assert check_text("The right hand forms a fist held in front of the shoulder.", LETTER_A, "global") == []
    assert check_text("The left hand forms a fist held in front of the shoulder.", LETTER_A, "global") == [
        "names the left side, which the entry does not"]
    # coffee's right hand works on the left hand: naming the left side is fine there
    assert check_part("The right fist circles on the left fist.", "right_hand", COFFEE) == []


def test_part_checks_for_a_plain_dictionary_entry() -> None:
    plain = KBEntry(id="md:hello", source="md", text="HELLO: flat hand moves outward from the forehead.")
    assert check_part("The right hand is flat.", "right_hand", plain) == []
    assert check_part("The face is near the forehead.", "face", plain) == []
    assert check_part("The mouth smiles widely.", "mouth", plain) == ["shares no term with the knowledge-base entry"]
    assert check_part("The left hand is flat.", "right_hand", plain) == ["talks about the left hand, not the right hand"]
    assert check_part("The flat left hand is under the right hand.", "left_hand", plain) == []
