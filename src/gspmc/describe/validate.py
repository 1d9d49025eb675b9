"""Guard rails: parse a reply against its JSON schema; check a generated text against the
knowledge-base entry it should describe.

A small model (SmolLM2-135M) returns schema-valid JSON whose *content* is often wrong (a name,
the meaning of the word, a different handshape). A text is accepted only when

- it is a real description: non-empty, at least ``min_words`` words, mostly letters, no
  placeholder or refusal, no looping repetition, and it names some articulator (hand, finger,
  palm, ...);
- it keeps the entry's key terms: one term of every group in ``entry.terms`` (handshape,
  location, movement; groups are derived from the entry text by the lexicons below when the
  entry has none), and names no side (left/right) the entry never names;
- a part text names something of its part (hand words for hands, chest/shoulder/... for the
  body, face words, mouth words) and agrees with the entry (see :func:`check_part`).

Rejected texts are replaced by the entry rendered as text (the ``kb-fallback`` path).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from gspmc.describe.entry import KBEntry

HANDSHAPE_WORDS = ("handshape", "fist", "flat", "spread", "bent", "curved", "extended", "index", "middle",
                   "ring", "pinky", "thumb", "closed", "open", "hooked", "crossed", "fingertips", "claw",
                   "cupped", "clasped", "clasp", "pinched", "pinch", "rounded", "straight", "folded", "curled")
LOCATION_WORDS = ("chest", "chin", "forehead", "mouth", "lips", "cheek", "nose", "eye", "eyes", "head",
                  "shoulder", "neck", "palm", "wrist", "forearm", "arm", "elbow", "waist", "hip", "hips",
                  "temple", "ear", "space", "torso", "stomach", "face")
MOVEMENT_WORDS = ("move", "moves", "moving", "circle", "circles", "circular", "forward", "upward", "downward",
                  "toward", "away", "twist", "twists", "tap", "taps", "shake", "shakes", "wiggle", "wiggles",
                  "arc", "straight", "repeated", "repeatedly", "brush", "brushes", "slide", "slides", "swing",
                  "swings", "rotate", "rotates", "flick", "flicks", "trace", "traces", "open", "opens", "close",
                  "closes")
ARTICULATORS = ("hand", "hands", "finger", "fingers", "palm", "palms", "thumb", "fist", "fingertip",
                "fingertips", "wrist", "arm", "arms", "handshape", "knuckles", "knuckle")
PART_WORDS: dict[str, tuple[str, ...]] = {
    "left_hand": ARTICULATORS + ("left",),
    "right_hand": ARTICULATORS + ("right",),
    "body": ("body", "chest", "torso", "shoulder", "shoulders", "arm", "arms", "waist", "hips", "hip", "neck",
             "space", "front", "stomach", "lean", "leans", "collarbone"),
    "face": ("face", "eye", "eyes", "brow", "brows", "eyebrow", "eyebrows", "forehead", "cheek", "nose", "chin",
             "head", "temple", "expression", "ear"),
    "mouth": ("mouth", "lip", "lips", "tongue", "teeth", "cheeks", "puff", "puffed", "mouthing"),
}
_REFUSALS = ("as an ai", "i cannot", "i can't", "i'm sorry", "i am sorry", "language model")

MIN_WORDS = {"global": 8, "synonym": 6, "part": 3}


class ReplyError(ValueError):
    """A reply is not JSON of the expected schema (the message is fed back to the model)."""


def parse_reply(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in ``text`` (code fences and prose around it are tolerated), validated."""
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, flags=re.S)
    if fence:
        body = fence.group(1).strip()
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise ReplyError("the reply contains no JSON object")
        body = body[start : end + 1]
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as err:
        raise ReplyError(f"the reply is not valid JSON: {err.msg} at position {err.pos}") from err
    try:
        jsonschema.validate(obj, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "the top level"
        raise ReplyError(f"the JSON does not match the schema at {where}: {err.message}") from err
    return obj


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


#: words that name the same articulator (the text may use either)
_SAME = {"little": "pinky"}


def _canon(words: list[str]) -> list[str]:
    """Plural -s / -es dropped from words longer than three letters, "little finger" -> "pinky"."""
    out: list[str] = []
    for w in words:
        if out and out[-1] == "little" and w in ("finger", "fingers"):
            out[-1] = _SAME["little"]
            continue
        if len(w) > 3 and w.endswith("es") and w[:-2].endswith(("sh", "ch", "x", "ss")):
            w = w[:-2]
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def contains_term(text: str, term: str) -> bool:
    """Whole-word (or whole-phrase) match, case-insensitive; ``-`` and spaces are interchangeable;
    singular and plural forms match ("fists" has "fist"), as do "little finger" and "pinky"."""
    words = _canon(_words(term))
    norm = " " + " ".join(_canon(_words(text))) + " "
    return (" " + " ".join(words) + " ") in norm if words else False


def derive_terms(text: str) -> dict[str, tuple[str, ...]]:
    """Key-term groups for an entry without explicit ones: the lexicon words its text uses."""
    groups = {}
    for name, lexicon in (("handshape", HANDSHAPE_WORDS), ("location", LOCATION_WORDS),
                          ("movement", MOVEMENT_WORDS)):
        found = tuple(w for w in lexicon if contains_term(text, w))
        if found:
            groups[name] = found
    return groups


def generic_problems(text: str, kind: str) -> list[str]:
    """Problems that make ``text`` no description at all (empty list: none)."""
    if not isinstance(text, str) or not text.strip():
        return ["empty"]
    words = _words(text)
    problems = []
    if len(words) < MIN_WORDS[kind]:
        problems.append(f"too short ({len(words)} words < {MIN_WORDS[kind]})")
    letters = sum(c.isalpha() for c in text)
    if letters < 0.6 * len(text.replace(" ", "")):
        problems.append("mostly not letters")
    if any(tok in text for tok in ("$", "{", "}", "<|", "[...]")):
        problems.append("contains template or markup residue")
    low = text.lower()
    if any(r in low for r in _REFUSALS):
        problems.append("refusal or meta text")
    trigrams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    if trigrams and max(trigrams.count(t) for t in set(trigrams)) > 2:
        problems.append("repeats itself")
    if kind != "part" and not any(contains_term(text, w) for w in ARTICULATORS):
        problems.append("names no articulator (hand, finger, palm, ...)")
    return problems


def entry_terms(entry: KBEntry) -> dict[str, tuple[str, ...]]:
    return dict(entry.terms) if entry.terms else derive_terms(entry.text)


def missing_groups(text: str, terms: dict[str, tuple[str, ...]]) -> list[str]:
    """Names of the key-term groups of which ``text`` contains no term."""
    return [name for name, group in terms.items() if group and not any(contains_term(text, t) for t in group)]


def sides(text: str) -> set[str]:
    """Which of "left" / "right" a text names."""
    return {w for w in _words(text) if w in ("left", "right")}


def side_problems(text: str, allowed: set[str]) -> list[str]:
    """A text naming a side (left/right) that its reference text never names."""
    extra = sorted(sides(text) - allowed)
    return [f"names the {' and '.join(extra)} side, which the entry does not"] if extra else []


def hand_side_problems(text: str, part: str) -> list[str]:
    """A hand text that names only the other hand (it may mention the other hand besides its own)."""
    own, other = ("left", "right") if part == "left_hand" else ("right", "left")
    named = sides(text)
    return [f"talks about the {other} hand, not the {own} hand"] if other in named and own not in named else []


def check_text(text: str, entry: KBEntry | None, kind: str) -> list[str]:
    """Why ``text`` is not acceptable as a ``kind`` ("global" | "synonym") description of the sign
    of ``entry`` (``None``: no knowledge-base entry; only generic checks and lexicon words)."""
    problems = generic_problems(text, kind)
    if problems:
        return problems
    if entry is None:
        need = {"handshape": HANDSHAPE_WORDS, "location or movement": LOCATION_WORDS + MOVEMENT_WORDS}
        return [f"no {name} words" for name, lex in need.items() if not any(contains_term(text, w) for w in lex)]
    missing = missing_groups(text, entry_terms(entry))
    if missing:
        return [f"drops the entry's {name} terms" for name in missing]
    return side_problems(text, sides(f"{entry.text} {entry.description} {entry.paraphrase}"))


_PART_STOP = {"right", "left", "hand", "hands", "the", "is", "are", "at", "near", "held", "still", "with", "from",
              "into", "that", "this", "they", "them", "there", "then", "when", "while", "handshape", "makes",
              "same", "moves", "move", "part", "takes", "sign", "front", "space"}


def part_keywords(entry: KBEntry, part: str) -> set[str]:
    """Content words of the entry's own text for ``part`` (empty: the entry gives none)."""
    return {w for t in entry.parts.get(part, ()) for w in _words(t) if len(w) > 3 and w not in _PART_STOP}


def check_part(text: str, part: str, entry: KBEntry | None) -> list[str]:
    """Why ``text`` is not acceptable as a text about ``part``.

    With an entry that has part texts: the entry must involve the part (it has a text for it: a
    one-handed sign has no left-hand text, a sign in neutral space no face text), the text must
    share a content word with the entry's text for that part, a hand text must not talk only
    about the other hand, a body/face/mouth text must name no side (left/right) the entry's text
    does not name, and a right-hand text must keep the entry's handshape and movement terms. With
    a plain entry (no part texts, e.g. a Markdown dictionary section): share a key term with it,
    sides as above (against the entry's whole text)."""
    problems = generic_problems(text, "part")
    if problems:
        return problems
    if not any(contains_term(text, w) for w in PART_WORDS[part]):
        return [f"says nothing about the {part.replace('_', ' ')}"]
    if entry is None:
        return []
    own_side = {"left_hand": {"left"}, "right_hand": {"right"}}.get(part, set())
    if not entry.parts:  # a plain dictionary text: agree with its terms and sides only
        vocab = {t for group in entry_terms(entry).values() for t in group}
        if vocab and not any(contains_term(text, t) for t in vocab):
            return ["shares no term with the knowledge-base entry"]
        return hand_side_problems(text, part) if own_side else side_problems(text, sides(entry.text))
    if not entry.parts.get(part):
        return [f"the knowledge-base entry does not involve the {part.replace('_', ' ')}"]
    keys = part_keywords(entry, part)
    if keys and not any(contains_term(text, k) for k in keys):
        return [f"shares no term with the entry's {part.replace('_', ' ')} text"]
    if own_side:
        side = hand_side_problems(text, part)
    else:
        side = side_problems(text, {w for t in entry.parts[part] for w in sides(t)})
    if side:
        return side
    if part == "right_hand":
        terms = {k: v for k, v in entry_terms(entry).items() if k in ("handshape", "movement")}
        missing = missing_groups(text, terms)
        if missing:
            return [f"drops the entry's {name} terms" for name in missing]
    return []
