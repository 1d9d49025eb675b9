"""Knowledge-base phonological attributes per class: the zero-shot baseline that needs no text training.

Each class gets a vector of coded phonological attributes from the knowledge-base entry the
description step linked it to (``provenance.kb_entry`` in a description store, e.g.
``asl-lex:big`` for ``large``, ``asl-manual-alphabet:letter-a`` for ``a``):

- an ASL-LEX 2.0 sign: its coded columns (:data:`CATEGORICAL`: sign type, handshape, path
  movement, major and minor location, non-dominant handshape; :data:`BINARY`: contact,
  repeated movement), first morpheme only;
- a fingerspelled letter: our coding of the one-handed manual alphabet in ASL-LEX's terms
  (:data:`LETTER_HANDSHAPE`): one-handed, the letter's handshape, no path movement except J
  (curved) and Z (Z-shaped), neutral space, no contact, not repeated.

:func:`attribute_matrix` one-hot encodes the values seen among the requested classes (one
block of norm 1 per categorical column, so each weighs the same in a cosine). The baseline
(:mod:`gspmc.openvocab.evaluate`) regresses these vectors from skeleton features of the seen
classes (ridge) and labels a clip with the unseen class whose vector is nearest (cosine):
nearest neighbour on knowledge-base attributes, no text encoder involved.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from gspmc.errors import DataError

CATEGORICAL: tuple[str, ...] = ("SignType.2.0", "Handshape.2.0", "Movement.2.0", "MajorLocation.2.0",
                                "MinorLocation.2.0", "NonDominantHandshape.2.0")
BINARY: tuple[str, ...] = ("Contact.2.0", "RepeatedMovement.2.0")
ASLLEX_FILE = "kb/asl-lex/signdata-11-5-20.csv"
# letters of the one-handed ASL manual alphabet -> ASL-LEX handshape code (ours; see module docstring)
LETTER_HANDSHAPE: dict[str, str] = {
    "a": "a", "b": "closed_b", "c": "c", "d": "d", "e": "e", "f": "f", "g": "g", "h": "h", "i": "i",
    "j": "i", "k": "k", "l": "l", "m": "flat_m", "n": "flat_n", "o": "o", "p": "p", "q": "g", "r": "r",
    "s": "s", "t": "t", "u": "h", "v": "v", "w": "w", "x": "curved_1", "y": "y", "z": "1",
}
LETTER_MOVEMENT: dict[str, str] = {"j": "Curved", "z": "Z-shaped"}


def kb_links(store: str | os.PathLike[str]) -> dict[str, str]:
    """gloss -> knowledge-base entry id (``provenance.kb_entry``) of every record of a description store."""
    path = Path(store)
    links: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise DataError(path, f"cannot read the description store ({err})") from None
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"line {n}: not JSON ({err})") from None
        entry = (rec.get("provenance") or {}).get("kb_entry")
        if rec.get("gloss") is not None and entry:
            links[str(rec["gloss"])] = str(entry)
    return links


def read_asllex_codes(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """ASL-LEX EntryID -> {column: value} for the coded columns (first row of each EntryID)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise DataError(path, f"cannot read ASL-LEX ({err})") from None
    rows = csv.DictReader(text.splitlines())
    missing = [c for c in CATEGORICAL + BINARY + ("EntryID",) if c not in (rows.fieldnames or [])]
    if missing:
        raise DataError(path, f"not an ASL-LEX 2.0 sign-data file: missing columns {missing}")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        eid = (row.get("EntryID") or "").strip()
        if eid and eid not in out:
            out[eid] = {c: (row.get(c) or "").strip() for c in CATEGORICAL + BINARY}
    return out


def letter_codes(letter: str) -> dict[str, str]:
    """Our ASL-LEX-style coding of a fingerspelled letter (module docstring)."""
    return {"SignType.2.0": "OneHanded", "Handshape.2.0": LETTER_HANDSHAPE[letter],
            "Movement.2.0": LETTER_MOVEMENT.get(letter, "None"), "MajorLocation.2.0": "Neutral",
            "MinorLocation.2.0": "Neutral", "NonDominantHandshape.2.0": "NA", "Contact.2.0": "0",
            "RepeatedMovement.2.0": "0"}


def class_codes(classes: Sequence[str], links: Mapping[str, str],
                asllex: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Codes of every class whose linked entry is an ASL-LEX sign or a manual-alphabet letter."""
    out: dict[str, dict[str, str]] = {}
    for c in classes:
        entry = links.get(c)
        if entry is None:
            continue
        source, _, local = entry.partition(":")
        local = re.sub(r"#\d+$", "", local)
        if source == "asl-lex" and local in asllex:
            out[c] = dict(asllex[local])
        elif source == "asl-manual-alphabet" and local.startswith("letter-") and local[7:] in LETTER_HANDSHAPE:
            out[c] = letter_codes(local[7:])
    return out


def attribute_matrix(codes: Mapping[str, Mapping[str, str]], classes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(C, A) attribute vectors of ``classes`` (all must have codes) and the A attribute names.

    One-hot per categorical column over the values present among ``classes`` (each such block has
    norm 1, so every column weighs the same), one 0/1 entry per binary column.
    """
    missing = [c for c in classes if c not in codes]
    if missing:
        raise DataError(None, f"no knowledge-base attributes for classes {missing}")
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for col in CATEGORICAL:
        values = sorted({codes[c][col] for c in classes})
        block = np.asarray([[codes[c][col] == v for v in values] for c in classes], np.float32)  # (C, n_values)
        blocks.append(block)
        names += [f"{col}={v}" for v in values]
    for col in BINARY:
        blocks.append(np.asarray([[codes[c][col] == "1"] for c in classes], np.float32))  # (C, 1)
        names.append(col)
    return np.concatenate(blocks, axis=1), names


def load_class_attributes(classes: Sequence[str], store: str | os.PathLike[str],
                          asllex_csv: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """The codes of ``classes`` through ``store``'s knowledge-base links and the ASL-LEX file."""
    return class_codes(classes, kb_links(store), read_asllex_codes(asllex_csv))
