"""ASL-LEX 2.0 -> readable knowledge-base entries, one per sign.

ASL-LEX 2.0 (Caselli et al. 2017; Sehyr et al. 2021; CC BY-NC 4.0) codes each sign's phonology
in columns such as ``Handshape.2.0``, ``SelectedFingers.2.0``, ``Flexion.2.0``, ``SignType.2.0``,
``Movement.2.0``, ``MajorLocation.2.0``, ``MinorLocation.2.0``, ``Contact.2.0``,
``NonDominantHandshape.2.0``. The column key (``signdataKEYfnl.csv``) gives each column a
readable name ("Website variable name"); those names label the fields of the entry text.
The key does not spell out the coded *values*; the wording of values below (e.g. ``FingerRadial``
-> "the thumb side of the fingers of the other hand") is ours, written from the variable
definitions in the key and the ASL-LEX coding manual's value names.

Only the first morpheme's coding is rendered (the ``M2``..``M6`` columns of compounds are left
out: the entry says the sign is a compound). "Dominant hand" is rendered as the right hand
(the convention of :mod:`gspmc.describe.store`; see ``dominant`` arguments).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from gspmc.describe.entry import KBEntry, normalize_gloss
from gspmc.errors import DataError

KEY_FILE_NAME = "signdataKEYfnl.csv"
REQUIRED_COLUMNS = ("EntryID", "Handshape.2.0", "MajorLocation.2.0", "Movement.2.0", "SignType.2.0")

# field -> label used when no key file is found (the key file's "Website variable name" otherwise)
_DEFAULT_LABELS = {
    "SignType.2.0": "Sign Type",
    "Handshape.2.0": "Handshape",
    "SelectedFingers.2.0": "Selected Fingers",
    "Flexion.2.0": "Flexion",
    "Spread.2.0": "Spread",
    "ThumbPosition.2.0": "Thumb Position",
    "ThumbContact.2.0": "Thumb Contact",
    "FlexionChange.2.0": "Flexion Change",
    "Movement.2.0": "Path Movement",
    "RepeatedMovement.2.0": "Repeated Movement",
    "MajorLocation.2.0": "Major Location",
    "MinorLocation.2.0": "Minor Location",
    "SecondMinorLocation.2.0": "Second Minor Location",
    "Contact.2.0": "Contact",
    "NonDominantHandshape.2.0": "Nondominant Handshape",
    "UlnarRotation.2.0": "Wrist Twist",
}

# ASL-LEX handshape code -> (name, short explicit articulation). Letter/number shapes follow the
# ASL manual alphabet and counting handshapes; the coded columns add the exact finger settings.
HANDSHAPES: dict[str, tuple[str, str]] = {
    "1": ("1", "index finger extended, other fingers closed"),
    "bent_1": ("bent 1", "index finger extended and bent, other fingers closed"),
    "curved_1": ("curved 1", "index finger curved, other fingers closed"),
    "flat_1": ("flat 1", "index finger straight but bent at the base knuckle, other fingers closed"),
    "3": ("3", "thumb, index and middle fingers extended and spread"),
    "4": ("4", "four fingers extended and spread, thumb folded on the palm"),
    "flat_4": ("flat 4", "four fingers spread and bent at the base knuckles, thumb folded"),
    "curved_4": ("curved 4", "four fingers spread and curved, thumb folded"),
    "5": ("5", "open hand, all fingers and the thumb extended and spread"),
    "curved_5": ("curved 5", "all fingers and the thumb spread and curved like a claw"),
    "flatspread_5": ("flat spread 5", "all fingers spread and bent at the base knuckles"),
    "stacked_5": ("stacked 5", "all fingers spread, each bent a little more than the one before"),
    "7": ("7", "ring finger touching the thumb, other fingers extended"),
    "8": ("8", "middle finger touching the thumb, other fingers extended"),
    "open_8": ("open 8", "middle finger bent forward, other fingers extended and spread"),
    "a": ("A", "fist with the thumb straight against the side of the index finger"),
    "b": ("B", "flat hand, fingers extended and together, thumb folded across the palm"),
    "closed_b": ("closed B", "flat hand, fingers extended and together, thumb folded across the palm"),
    "open_b": ("open B", "flat hand, fingers extended and together, thumb extended at the side"),
    "flat_b": ("flat B", "fingers straight and together, bent at the base knuckles"),
    "baby_o": ("baby O", "index fingertip touching the thumb tip, other fingers closed"),
    "c": ("C", "fingers and thumb curved together to form the letter C"),
    "d": ("D", "index finger extended, middle, ring and pinky fingers touching the thumb"),
    "e": ("E", "fingertips bent down to rest on the thumb, which lies across the palm"),
    "open_e": ("open E", "fingers bent at the middle joints above the thumb without touching it"),
    "spread_open_e": ("spread open E", "fingers spread and hooked, thumb held apart"),
    "spread_e": ("spread E", "fingers spread and bent down toward the thumb"),
    "closed_e": ("closed E", "fingers tightly bent down onto the thumb"),
    "f": ("F", "index finger and thumb touching in a circle, other three fingers extended and spread"),
    "open_f": ("open F", "index finger bent toward the thumb without touching, other fingers extended"),
    "g": ("G", "index finger and thumb extended parallel, pointing sideways, other fingers closed"),
    "h": ("H", "index and middle fingers extended together, pointing sideways"),
    "flat_h": ("flat H", "index and middle fingers together, bent at the base knuckles"),
    "open_h": ("open H", "index and middle fingers extended together, thumb extended"),
    "curved_h": ("curved H", "index and middle fingers together and curved"),
    "horns": ("horns", "index and pinky fingers extended, middle and ring fingers closed"),
    "flat_horns": ("flat horns", "index and pinky fingers extended and bent at the base knuckles"),
    "i": ("I", "pinky finger extended, other fingers closed, thumb across them"),
    "ily": ("I-love-you", "thumb, index and pinky fingers extended, middle and ring fingers closed"),
    "flat_ily": ("flat I-love-you", "thumb, index and pinky fingers extended, fingers bent at the knuckles"),
    "k": ("K", "index and middle fingers extended apart, thumb touching the middle finger"),
    "l": ("L", "thumb and index finger extended at a right angle, other fingers closed"),
    "bent_l": ("bent L", "thumb and bent index finger extended, other fingers closed"),
    "curved_l": ("curved L", "thumb and index finger curved apart, as if holding something small"),
    "flat_m": ("flat M", "index, middle and ring fingers bent over the thumb"),
    "flat_n": ("flat N", "index and middle fingers bent over the thumb"),
    "o": ("O", "all fingertips touching the thumb tip to form an O"),
    "flat_o": ("flat O", "fingers straight and together, tips touching the thumb tip"),
    "p": ("P", "like K, pointing down: index and middle fingers apart, thumb touching the middle finger"),
    "r": ("R", "index and middle fingers crossed, other fingers closed"),
    "s": ("S", "fist with the thumb closed across the front of the fingers"),
    "t": ("T", "fist with the thumb tucked between the index and middle fingers"),
    "v": ("V", "index and middle fingers extended and spread, other fingers closed"),
    "bent_v": ("bent V", "index and middle fingers spread and bent at the middle joints"),
    "curved_v": ("curved V", "index and middle fingers spread and curved"),
    "flat_v": ("flat V", "index and middle fingers spread, bent at the base knuckles"),
    "w": ("W", "index, middle and ring fingers extended and spread, thumb holding the pinky"),
    "y": ("Y", "thumb and pinky finger extended, other fingers closed"),
    "goody_goody": ("goody-goody", "thumb and index finger extended in contact, other fingers closed"),
    "lax": ("lax", "relaxed hand, fingers loosely open"),
}

_FINGERS = {"t": "thumb", "i": "index", "m": "middle", "r": "ring", "p": "pinky"}

_FLEXION = {
    "FullyOpen": "fully extended",
    "Curved": "curved",
    "Flat": "flat (straight, bent only at the base knuckles)",
    "Bent": "bent",
    "FullyClosed": "fully closed",
    "Stacked": "stacked (each finger bent a little more than the one before)",
    "Crossed": "crossed",
}

_SIGN_TYPE = {
    "OneHanded": "one-handed sign",
    "SymmetricalOrAlternating": "two-handed sign; both hands have the same handshape and move together, "
    "symmetrically or alternating",
    "AsymmetricalSameHandshape": "two-handed sign; both hands have the same handshape, only the right hand moves",
    "AsymmetricalDifferentHandshape": "two-handed sign; the left hand is a still base with its own handshape, "
    "only the right hand moves",
    "DominanceViolation": "two-handed sign; the still left hand has an unusual handshape",
    "SymmetryViolation": "two-handed sign; both hands move but their handshapes differ",
}

# movement code -> (phrase, key terms that a paraphrase of it keeps)
_MOVEMENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "Straight": ("moves in a straight line", ("straight", "line", "forward", "outward", "downward", "upward",
                                              "toward", "away", "down", "up", "out", "across")),
    "Curved": ("moves along a curved arc", ("curve", "curved", "arc", "arcs", "arching")),
    "Circular": ("moves in a circle", ("circle", "circles", "circular", "circling", "rotate", "rotates")),
    "Z-shaped": ("moves in a zigzag (Z-shaped) path", ("zigzag", "z")),
    "BackAndForth": ("moves back and forth", ("back and forth", "forth", "side to side", "wiggle", "shake")),
    "X-shaped": ("traces an X shape", ("x", "cross")),
    "Other": ("moves along an irregular path", ()),
    "None": ("stays in place without a path movement", ()),
}

_MAJOR = {
    "Neutral": "in the neutral space in front of the body",
    "Head": "at the head",
    "Hand": "on the left hand",
    "Body": "on the body",
    "Arm": "on the left arm",
    "Other": "",
}

# minor location code -> (phrase, key terms, part it concerns besides the hands)
_MINOR: dict[str, tuple[str, tuple[str, ...], str]] = {
    "Neutral": ("the neutral space in front of the chest", ("neutral", "front", "space", "chest", "torso", "body"), "body"),
    "Palm": ("the palm of the left hand", ("palm",), ""),
    "HeadAway": ("the space near the head", ("head", "face", "forehead", "temple", "side"), "face"),
    "Mouth": ("the mouth", ("mouth", "lips", "lip"), "mouth"),
    "Forehead": ("the forehead", ("forehead", "temple", "head"), "face"),
    "Chin": ("the chin", ("chin",), "face"),
    "HandAway": ("the space near the left hand", ("hand", "left"), ""),
    "CheekNose": ("the cheek or nose", ("cheek", "nose", "face"), "face"),
    "FingerRadial": ("the thumb side of the left hand's fingers", ("finger", "fingers", "thumb", "hand"), ""),
    "TorsoTop": ("the upper chest", ("chest", "upper"), "body"),
    "Other": ("", (), ""),
    "PalmBack": ("the back of the left hand", ("back", "hand"), ""),
    "FingerTip": ("the fingertips of the left hand", ("fingertip", "fingertips", "finger", "fingers", "tip"), ""),
    "FingerBack": ("the back of the left hand's fingers", ("finger", "fingers", "back"), ""),
    "Clavicle": ("the collarbone", ("collarbone", "clavicle", "shoulder", "chest"), "body"),
    "BodyAway": ("the space in front of the body", ("body", "front", "chest", "torso"), "body"),
    "Eye": ("the eye", ("eye", "eyes"), "face"),
    "FingerFront": ("the palm side of the left hand's fingers", ("finger", "fingers", "palm"), ""),
    "Shoulder": ("the shoulder", ("shoulder",), "body"),
    "FingerUlnar": ("the pinky side of the left hand's fingers", ("finger", "fingers", "pinky"), ""),
    "Neck": ("the neck", ("neck", "throat"), "body"),
    "UnderChin": ("the underside of the chin", ("chin",), "face"),
    "TorsoMid": ("the middle of the chest", ("chest", "torso", "stomach"), "body"),
    "ForearmUlnar": ("the pinky side of the left forearm", ("forearm", "arm"), "body"),
    "ArmAway": ("the space near the left arm", ("arm",), "body"),
    "UpperArm": ("the upper arm", ("arm",), "body"),
    "Heel": ("the heel of the left hand", ("heel", "hand", "palm"), ""),
    "HeadTop": ("the top of the head", ("head",), "face"),
    "WristBack": ("the back of the left wrist", ("wrist",), ""),
    "Hips": ("the hips", ("hip", "hips", "waist"), "body"),
    "ForearmBack": ("the back of the left forearm", ("forearm", "arm"), "body"),
    "TorsoBottom": ("the lower torso", ("torso", "stomach", "belly", "waist"), "body"),
    "UpperLip": ("the upper lip", ("lip", "lips", "mouth"), "mouth"),
    "Waist": ("the waist", ("waist", "hip"), "body"),
    "ElbowBack": ("the elbow", ("elbow", "arm"), "body"),
    "WristFront": ("the inside of the left wrist", ("wrist",), ""),
    "ForearmFront": ("the inside of the left forearm", ("forearm", "arm"), "body"),
    "ForearmRadial": ("the thumb side of the left forearm", ("forearm", "arm"), "body"),
    "OtherAway": ("", (), ""),
}


def _present(value: str | None) -> bool:
    return value not in (None, "", "NA")


def handshape_phrase(code: str) -> str:
    """``"s"`` -> ``"S handshape (fist with the thumb closed across the front of the fingers)"``."""
    name, how = HANDSHAPES.get(code.lower(), (code.replace("_", " ").upper(), ""))
    return f"{name} handshape ({how})" if how else f"{name} handshape"


def handshape_terms(code: str) -> tuple[str, ...]:
    """Words that show a text kept the handshape: its name as "<name> handshape/hand/shape", or the
    content words of its articulation (e.g. ``fist``)."""
    name, how = HANDSHAPES.get(code.lower(), (code.replace("_", " "), ""))
    name = name.lower()
    terms = [f"{name} handshape", f"{name} hand", f"{name}-hand", f"{name} shape", f"{name}-shape"]
    stop = {"with", "the", "and", "other", "fingers", "finger", "at", "to", "a", "of", "on", "as", "if", "or",
            "hand", "thumb", "across", "front", "side", "each", "more", "than", "one", "before", "little",
            "form", "letter", "held", "apart", "holding", "something", "small", "pointing"}
    for word in re.findall(r"[a-z]+", how):
        if word not in stop and len(word) > 3:
            terms.append(word)
    return tuple(dict.fromkeys(terms))


def load_key_labels(path: Path) -> dict[str, str]:
    """Column name -> readable label from the ASL-LEX key file (``Website variable name``)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("mac_roman")  # the 2020 key file was saved by Excel for Mac
    reader = csv.DictReader(text.splitlines())
    need = {"VariableName(CSV&OSF)", "Website variable name", "KnackVariableName"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise DataError(path, f"not an ASL-LEX column key: expected columns {sorted(need)}")
    labels: dict[str, str] = {}
    for row in reader:
        label = (row["Website variable name"] or "").strip()
        for col in (row["KnackVariableName"], row["VariableName(CSV&OSF)"]):
            if col and label:
                labels.setdefault(col.strip(), label)
    return labels


def is_asllex_csv(header: list[str]) -> bool:
    return all(col in header for col in REQUIRED_COLUMNS)


def _fingers(code: str) -> str:
    names = [_FINGERS[c] for c in code if c in _FINGERS]
    if not names:
        return ""
    if len(names) == 1:
        return f"the {names[0]} finger" if names[0] != "thumb" else "the thumb"
    return "the " + ", ".join(names[:-1]) + f" and {names[-1]} fingers"


def _strip_variant(entry_id: str) -> str:
    return re.sub(r"_\d+$", "", entry_id)


def render_row(row: dict[str, str], labels: dict[str, str], entry_id: str, source: str) -> KBEntry:
    """One ASL-LEX row -> a :class:`KBEntry` (text, key terms, part fallbacks, paraphrase)."""

    def label(col: str) -> str:
        return labels.get(col, _DEFAULT_LABELS.get(col, col))

    gloss = _strip_variant(row["EntryID"]).replace("_", " ")
    hs = row.get("Handshape.2.0", "")
    nd = row.get("NonDominantHandshape.2.0", "")
    sign_type = row.get("SignType.2.0", "")
    move = row.get("Movement.2.0", "")
    major = row.get("MajorLocation.2.0", "")
    minor = row.get("MinorLocation.2.0", "")
    minor2 = row.get("SecondMinorLocation.2.0", "")
    repeated = row.get("RepeatedMovement.2.0") == "1"
    contact = row.get("Contact.2.0") == "1"
    twist = row.get("UlnarRotation.2.0") == "1"
    two_handed = sign_type not in ("", "OneHanded")

    fields: list[str] = []
    lex = row.get("LexicalClass", "")
    header = f"ASL sign {gloss.upper()}" + (f" ({lex.lower()})" if _present(lex) else "")
    translations = [t.strip() for t in re.split(r"[,/]", row.get("SignBankEnglishTranslations", "")) if t.strip()]
    translations = [t for t in translations if _present(t)]
    if translations:
        header += "; English: " + ", ".join(translations[:6])
    fields.append(header + ".")
    if row.get("Compound.2.0") == "1":
        fields.append("A compound sign; the coding below describes its first part.")
    if row.get("Initialized.2.0") == "1":
        fields.append("Initialized: the handshape is the first letter of the English word.")
    if _present(sign_type):
        fields.append(f"{label('SignType.2.0')}: {_SIGN_TYPE.get(sign_type, sign_type)}.")
    if _present(hs):
        fields.append(f"{label('Handshape.2.0')} (right hand): {handshape_phrase(hs)}.")
    sel = _fingers(row.get("SelectedFingers.2.0", ""))
    if sel:
        fields.append(f"{label('SelectedFingers.2.0')}: {sel}.")
    flex = row.get("Flexion.2.0", "")
    if flex in _FLEXION:
        fields.append(f"{label('Flexion.2.0')}: {_FLEXION[flex]}.")
    if row.get("FlexionChange.2.0") == "1":
        fields.append(f"{label('FlexionChange.2.0')}: the fingers open or close during the sign.")
    spread = row.get("Spread.2.0")
    if spread in ("0", "1"):
        fields.append(f"{label('Spread.2.0')}: fingers {'spread apart' if spread == '1' else 'together'}.")
    thumb = row.get("ThumbPosition.2.0")
    if _present(thumb):
        touch = " and touching the selected fingers" if row.get("ThumbContact.2.0") == "1" else ""
        fields.append(f"{label('ThumbPosition.2.0')}: thumb {'open' if thumb == 'Open' else 'closed'}{touch}.")
    move_phrase = _MOVEMENT.get(move, ("", ()))[0]
    if move_phrase:
        fields.append(f"{label('Movement.2.0')}: the right hand {move_phrase}"
                      + (", repeated" if repeated else "") + ".")
    if twist:
        fields.append(f"{label('UlnarRotation.2.0')}: the wrist twists.")
    if _present(major) and _MAJOR.get(major):
        fields.append(f"{label('MajorLocation.2.0')}: {_MAJOR[major]}.")
    minor_phrase = _MINOR.get(minor, ("", (), ""))[0]
    if minor_phrase:
        fields.append(f"{label('MinorLocation.2.0')}: {minor_phrase}.")
    minor2_phrase = _MINOR.get(minor2, ("", (), ""))[0]
    if minor2_phrase and minor2 != minor:
        fields.append(f"{label('SecondMinorLocation.2.0')}: ends at {minor2_phrase}.")
    if row.get("Contact.2.0") in ("0", "1"):
        fields.append(f"{label('Contact.2.0')}: the right hand "
                      + ("touches the location." if contact else "does not touch the body or the other hand."))
    if two_handed and _present(nd) and nd.lower() in HANDSHAPES:
        fields.append(f"{label('NonDominantHandshape.2.0')} (left hand): {handshape_phrase(nd)}.")
    text = " ".join(fields)

    # --- prose for the fallbacks: the explicit articulation, no references left
    where = minor_phrase or _MAJOR.get(major, "")
    if where.startswith(("the space", "the neutral space")):
        where = "in " + where
    elif where and not where.startswith(("in ", "on ", "at ")):
        where = ("at " if contact else "near ") + where
    hand = f"The right hand forms the {handshape_phrase(hs)}" if _present(hs) else "The right hand"
    moves = f" and {move_phrase}" if move_phrase else ""
    rep = " repeatedly" if repeated and move_phrase and move != "None" else ""
    in_space = minor in ("Neutral", "HeadAway", "BodyAway", "ArmAway", "HandAway", "OtherAway") or (
        major == "Neutral" and not minor_phrase)
    if contact and in_space:  # the key: contact with the location, or with the other hand
        touch = ", the hands touching each other" if two_handed else ""
    else:
        touch = ", touching it" if contact and where else ""
    sentence1 = f"{hand}{moves}{rep} {where}{touch}.".replace("  ", " ").replace(" .", ".")
    sentences = [sentence1]
    if minor2_phrase and minor2 != minor and minor2 not in ("Neutral",):
        sentences.append(f"It ends at {minor2_phrase}.")
    if twist:
        sentences.append("The wrist twists during the movement.")
    left = ""
    if two_handed:
        if sign_type == "SymmetricalOrAlternating":
            left = f"The left hand makes the same {handshape_phrase(hs)} and moves with the right hand."
        elif _present(nd) and nd.lower() in HANDSHAPES:
            left = f"The left hand is held still in the {handshape_phrase(nd)}."
        else:
            left = "The left hand takes part in the sign."
        sentences.append(left)
    prose = " ".join(sentences)

    para_move = move_phrase.replace("moves", "travels") if move_phrase else ""
    paraphrase = (
        f"Using one hand shaped as {handshape_phrase(hs)}"
        if not two_handed
        else f"With both hands, the right one shaped as {handshape_phrase(hs)}"
    )
    paraphrase += f", the signer's hand {para_move}" if para_move else ""
    paraphrase += (" " + where) if where else ""
    paraphrase += (", making contact" if contact and where and (two_handed or not in_space) else "") + "."

    # --- key terms for validation
    terms: dict[str, tuple[str, ...]] = {}
    if _present(hs):
        terms["handshape"] = handshape_terms(hs)
    loc_terms = _MINOR.get(minor, ("", (), ""))[1]
    if loc_terms:
        terms["location"] = loc_terms
    mv_terms = _MOVEMENT.get(move, ("", ()))[1]
    if mv_terms:
        terms["movement"] = mv_terms

    # --- part fallbacks (0..m texts per part)
    parts: dict[str, tuple[str, ...]] = {}
    right = f"Right hand: {handshape_phrase(hs)}" if _present(hs) else "Right hand"
    right += f"; it {move_phrase}{rep}" if move_phrase else ""
    right += f", {where}{touch}." if where else "."
    parts["right_hand"] = (right,)
    if left:
        parts["left_hand"] = (left,)
    concern = _MINOR.get(minor, ("", (), ""))[2]
    if major == "Neutral" or concern == "body":
        at = minor_phrase or "the space in front of the body"
        at = ("in " if at.startswith(("the space", "the neutral space")) else "at ") + at
        parts["body"] = (f"The {'hands are' if two_handed else 'right hand is'} {at}"
                         + (", touching it." if contact and not in_space else "."),)
    if concern == "face" or major == "Head":
        parts["face"] = (f"The right hand is {'at' if contact else 'near'} {minor_phrase or 'the head'}.",)
    if concern == "mouth":
        parts["mouth"] = (f"The right hand {'touches' if contact else 'is near'} {minor_phrase}.",)

    headwords = [normalize_gloss(_strip_variant(row["EntryID"])), normalize_gloss(_strip_variant(row.get("LemmaID", "")))]
    dom = row.get("DominantTranslation", "")
    headwords += [normalize_gloss(t) for t in re.split(r"[,/]", dom) if _present(t.strip())]
    headwords += [normalize_gloss(t) for t in translations]
    headwords = [h for h in dict.fromkeys(headwords) if h]
    return KBEntry(
        id=f"{source}:{entry_id}",
        source=source,
        text=text,
        headwords=tuple(headwords),
        terms=terms,
        parts=parts,
        description=prose,
        paraphrase=paraphrase,
    )


def read_asllex(path: Path, source: str = "asl-lex") -> list[KBEntry]:
    """Read an ASL-LEX 2.0 sign-data CSV (and the key file next to it, when present)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read ASL-LEX CSV: {err}") from err
    reader = csv.DictReader(text.splitlines())
    header = list(reader.fieldnames or [])
    if not is_asllex_csv(header):
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        raise DataError(path, f"not an ASL-LEX 2.0 sign-data file: missing columns {missing}")
    key_path = path.with_name(KEY_FILE_NAME)
    labels = load_key_labels(key_path) if key_path.is_file() else {}
    seen: Counter[str] = Counter()
    entries = []
    for row in reader:
        eid = (row.get("EntryID") or "").strip()
        if not eid:
            continue
        seen[eid] += 1
        local = eid if seen[eid] == 1 else f"{eid}#{seen[eid]}"
        entries.append(render_row(row, labels, local, source))
    if not entries:
        raise DataError(path, "no signs (rows with an EntryID) found")
    return entries
