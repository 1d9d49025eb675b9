"""Retrieval quality on ASL-LEX: does a gloss retrieve its own entry at rank 1?

For every ASL-LEX sign (or a seeded sample), query with its gloss (EntryID without the variant
suffix, underscores as spaces) and check whether the rank-1 entry lists that gloss as its name.
Reports the hit rate for each channel alone and fused. Not a test: run it by hand, e.g.

    .venv/bin/python bench/describe_retrieval.py --sample 0      # all 2,723 signs
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gspmc.describe.entry import normalize_gloss
from gspmc.describe.kb import resolve_sources
from gspmc.describe.retrieval import open_index
from gspmc.paths import data_dir

CONFIGS = {
    "fused (dense+bm25+headword)": {},
    "dense+bm25": {"headword": 0},
    "dense only": {"lexical": 0, "headword": 0},
    "bm25 only": {"dense": 0, "headword": 0},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=500, help="signs to query (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    # same sources as the shipped traduttore run, so the cached index is reused
    index = open_index(resolve_sources([str(data_dir() / "kb" / "asl-lex"), "builtin:asl-alphabet"]), log=print)
    own = [(i, e) for i, e in enumerate(index.entries) if e.source == "asl-lex"]
    if args.sample:
        rng = np.random.default_rng(args.seed)
        pick = rng.choice(len(own), size=min(args.sample, len(own)), replace=False)
        own = [own[i] for i in sorted(pick)]
    t = time.perf_counter()
    vecs = index.encoder.encode([e.headwords[0] for _, e in own])  # (n, d), one batch
    print(f"encoded {len(own)} queries in {time.perf_counter() - t:.1f} s")
    for name, weights in CONFIGS.items():
        t = time.perf_counter()
        hits = 0
        for (_, entry), vec in zip(own, vecs, strict=True):
            gloss = entry.headwords[0]
            top = index.search(gloss, k=1, gloss=gloss, weights=weights, query_vec=vec)
            hits += bool(top) and top[0].entry.headwords[:1] == (normalize_gloss(gloss),)
        dt = time.perf_counter() - t
        print(f"{name:30s} rank-1 own-entry hit rate {hits / len(own):.3f} ({hits}/{len(own)}), "
              f"{1000 * dt / len(own):.1f} ms/query")


if __name__ == "__main__":
    main()
