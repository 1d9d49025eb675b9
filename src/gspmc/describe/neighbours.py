"""The vocabulary neighbours of a gloss: the other signs of the same vocabulary that are articulated
most alike, so the prompts can ask what tells them apart (gspmc's addition to GSP, not in the paper).

For every gloss with a knowledge-base entry of its own, its articulation text (the entry's explicit
``description``, else its ``text``) is ranked against the articulation texts of the other glosses'
own entries with the index's two content channels:

- dense: cosine of the index's sentence encoder (all-MiniLM-L6-v2) over the whole articulation texts;
- lexical: the index's BM25 model (corpus-wide IDF), scored on the candidates' entries only;

fused by reciprocal rank fusion, ``score = sum_c 1 / (RRF_K + rank_c)``. A gloss without an entry has
no neighbours (nothing is known of its articulation). Glosses whose own entry is the same entry as the
gloss's (two names of one sign) are not neighbours; glosses without an entry cannot be neighbours
(there is nothing to contrast with).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gspmc.describe.entry import KBEntry
from gspmc.describe.retrieval import RRF_K, KBIndex, tokenize


@dataclass(frozen=True)
class Neighbour:
    gloss: str  # vocabulary key
    query: str  # the name shown in prompts
    entry: KBEntry  # its own knowledge-base entry
    score: float  # fused RRF score (higher: more alike)


def articulation_text(entry: KBEntry) -> str:
    """What an entry says about how the sign is made (the explicit description when it has one)."""
    return entry.description or entry.text


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks of ``scores`` (highest first; ties by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def vocabulary_neighbours(index: KBIndex, own: Mapping[str, KBEntry | None], queries: Mapping[str, str],
                          n: int = 3) -> dict[str, list[Neighbour]]:
    """For each gloss of ``own`` (gloss -> its own entry or None), its ``n`` most alike other glosses.

    Args:
        index: the knowledge index (its encoder and BM25 model are used).
        own: every vocabulary gloss with its own entry (None: no entry).
        queries: gloss -> the word naming it in prompts (used as the query of a gloss without entry).
        n: neighbours per gloss.
    """
    glosses = list(own)
    cands = [g for g in glosses if own[g] is not None]
    if n <= 0 or len(cands) < 1:
        return {g: [] for g in glosses}
    texts = {g: articulation_text(own[g]) for g in cands}
    emb = index.encoder.encode([texts[g] for g in cands])  # (C, d), unit rows
    row = {g: i for i, g in enumerate(cands)}
    pos = {e.id: i for i, e in enumerate(index.entries)}
    cand_docs = [pos.get(own[g].id) for g in cands]  # type: ignore[union-attr]
    out: dict[str, list[Neighbour]] = {}
    for g in glosses:
        mine = own[g]
        if mine is None:  # nothing known of its articulation: no neighbour is meaningful
            out[g] = []
            continue
        keep = np.asarray([c != g and (mine is None or own[c].id != mine.id) for c in cands])  # type: ignore[union-attr]
        if not keep.any():
            out[g] = []
            continue
        dense = emb @ emb[row[g]]  # (C,)
        lexical = np.zeros(len(cands))
        tokens = [t for t in tokenize(texts[g]) if t in index.vocab]
        if tokens and index.bm25 is not None and all(d is not None for d in cand_docs):
            lexical = np.asarray(index.bm25.get_scores(tokens))[np.asarray(cand_docs)]  # (C,)
        dense[~keep], lexical[~keep] = -np.inf, -np.inf
        fused = 1.0 / (RRF_K + _ranks(dense)) + 1.0 / (RRF_K + _ranks(lexical))  # (C,)
        fused[~keep] = -np.inf
        best = [int(i) for i in np.argsort(-fused, kind="stable")[:n] if np.isfinite(fused[i])]
        out[g] = [Neighbour(cands[i], queries.get(cands[i], cands[i]), own[cands[i]], float(fused[i]))  # type: ignore[arg-type]
                  for i in best]
    return out


def neighbours_context(neighbours: Sequence[Neighbour], chars: int = 400,
                       side: Callable[[str], str] = str) -> str:
    """The prompt block listing the neighbours' entries (``(none)`` when there are none)."""
    if not neighbours:
        return "(none)"
    lines = []
    for k, nb in enumerate(neighbours, start=1):
        text = articulation_text(nb.entry)[:chars]
        lines.append(f"[N{k}] \"{nb.query}\": {side(text)}")
    return "\n".join(lines)
