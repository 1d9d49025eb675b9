"""Why no traduttore description store reaches a global mean cross-class cosine <= 0.6 (issue 21, point 3).

Encoder or texts? For each store and each offline encoder, the texts are embedded as they are and in
variants computed here (no store is edited, no embedding cache is written):

- ``as-is``: the store's global + synonym texts;
- ``no-boilerplate``: word n-grams (n >= 3) that occur in the texts of >= 20% of the classes (and >= 3)
  are cut out of every text ("in front of the right shoulder", "the palm faces forward", ...);
- ``articulation``: the gloss name, "letter X" / "X handshape" / "fingerspelled X" and sentences with
  meaning words ("means", "English", ...) are removed, so only articulation is left;
- ``attr:<handshape|location|movement>``: one text per class and attribute, from the fields of the class's
  knowledge-base entry (ASL-LEX / manual alphabet; traduttore only, classes with an entry), and
  ``attr:concat``: the three attribute embeddings concatenated (cosine = mean of the attribute cosines).

Figures (texts of the ``global`` kind unless said; "pooled" = global + synonym texts, synonyms are
same-class partners):

- ``mean``: mean cosine between global texts of different classes (the figure of the 0.6 target);
- ``near``: for each global text, the cosine to the closest global text of another class, averaged;
- ``within``: mean cosine between two different pooled texts of the same class;
- ``gap``: ``within`` minus the mean cross-class cosine of the pooled texts;
- ``c-near`` / ``c-within``: ``near`` and ``within`` after centring (subtract the mean pooled embedding and
  re-normalise: removes the common "a sign description" direction; the centred mean is ~ -1/(K-1) by
  construction, so it is not reported);
- ``nn``: leave-one-out nearest-text accuracy on the pooled texts (is a text's closest other text one of
  its own class?);
- ``s2g``: each synonym text classified by its closest global text among the K classes (top-1; what a
  text-prototype classifier would do with a paraphrase).

Run (2 CPU cores, ~5 minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python bench/separability_study.py --out bench/results/separability_study.json

``--markdown`` prints the tables used in docs/mc.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DESC = ROOT / "src" / "gspmc" / "descriptions"
SHARED = ROOT.parent / "shared" / "data"
TRADUTTORE = [("claude", "traduttore_asl33.claude.jsonl"), ("claude-v1", "traduttore_asl33.claude-v1.jsonl"),
              ("claude-nokb", "traduttore_asl33.claude-nokb.jsonl"), ("kb", "traduttore_asl33.kb.jsonl"),
              ("smollm", "traduttore_asl33.jsonl")]
OTHERS = [("autsl226", "autsl226.claude.jsonl", SHARED / "vocab" / "autsl226_TR_EN.csv")]
NEW_STORES = ("gislr250", "wlasl300", "slr500")
ENCODERS = ("minilm", "use-multilingual", "e5-small")
MEANING = re.compile(r"\b(means?|meaning|refers?|represents?|signif\w*|english|concept|word)\b", re.I)


# ---------------------------------------------------------------- figures
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def figures(g_emb: np.ndarray, g_lab: np.ndarray, p_emb: np.ndarray, p_lab: np.ndarray,
            p_is_syn: np.ndarray) -> dict[str, float | None]:
    """The figures of the module docstring. g_*: global texts (G, d)/(G,); p_*: pooled (P, d)/(P,)."""
    out: dict[str, float | None] = {}
    sim = g_emb @ g_emb.T  # (G, G)
    diff = g_lab[:, None] != g_lab[None, :]
    out["mean"] = float(sim[diff].mean())
    out["near"] = float(np.where(diff, sim, -np.inf).max(axis=1).mean())
    centre = p_emb.mean(axis=0, keepdims=True)
    gc = _unit(g_emb - centre)
    csim = gc @ gc.T
    out["c-near"] = float(np.where(diff, csim, -np.inf).max(axis=1).mean())
    ps = p_emb @ p_emb.T  # (P, P)
    pc = _unit(p_emb - centre)
    pcs = pc @ pc.T
    same = (p_lab[:, None] == p_lab[None, :]) & ~np.eye(len(p_lab), dtype=bool)
    pdiff = p_lab[:, None] != p_lab[None, :]
    out["within"] = float(ps[same].mean()) if same.any() else None
    out["gap"] = None if out["within"] is None else out["within"] - float(ps[pdiff].mean())
    out["c-within"] = float(pcs[same].mean()) if same.any() else None
    has_partner = same.any(axis=1)
    if has_partner.any():
        loo = np.where(np.eye(len(p_lab), dtype=bool), -np.inf, ps)
        out["nn"] = float((p_lab[loo.argmax(axis=1)] == p_lab)[has_partner].mean())
    else:
        out["nn"] = None
    if p_is_syn.any():
        s = p_emb[p_is_syn] @ g_emb.T  # (S, G)
        out["s2g"] = float((g_lab[s.argmax(axis=1)] == p_lab[p_is_syn]).mean())
    else:
        out["s2g"] = None
    return out


def attr_figures(embs: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """mean / near / c-near for one text per class and attribute, and for the concatenation."""
    out = {}
    diff = labels[:, None] != labels[None, :]
    cat = np.concatenate(list(embs.values()), axis=1) / np.sqrt(len(embs))
    for name, e in {**embs, "concat": cat}.items():
        sim = e @ e.T
        c = _unit(e - e.mean(axis=0, keepdims=True))
        out[name] = {"mean": float(sim[diff].mean()), "near": float(np.where(diff, sim, -np.inf).max(axis=1).mean()),
                     "c-near": float(np.where(diff, c @ c.T, -np.inf).max(axis=1).mean())}
    return out


# ---------------------------------------------------------------- text variants
def _words(t: str) -> list[str]:
    return re.findall(r"[\w'-]+|[^\w\s]", t)


def boilerplate_ngrams(docs: list[list[str]], min_n: int = 3, max_n: int = 8, frac: float = 0.2) -> set[tuple[str, ...]]:
    """Word n-grams (lower-cased, punctuation excluded) found in the texts of >= frac of the classes."""
    df: Counter[tuple[str, ...]] = Counter()
    for texts in docs:
        seen = set()
        for t in texts:
            w = [x.lower() for x in _words(t) if re.match(r"\w", x)]
            for n in range(min_n, max_n + 1):
                seen.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
        df.update(seen)
    need = max(3, int(np.ceil(frac * len(docs))))
    return {g for g, c in df.items() if c >= need}


def strip_ngrams(text: str, grams: set[tuple[str, ...]], max_n: int = 8) -> str:
    """Remove every word covered by one of ``grams`` (matching on words, ignoring punctuation)."""
    toks = _words(text)
    idx = [i for i, x in enumerate(toks) if re.match(r"\w", x)]
    low = [toks[i].lower() for i in idx]
    drop = [False] * len(idx)
    for n in range(max_n, 2, -1):
        for i in range(len(low) - n + 1):
            if tuple(low[i:i + n]) in grams:
                drop[i:i + n] = [True] * n
    gone = {idx[k] for k, d in enumerate(drop) if d}
    kept = [x for i, x in enumerate(toks) if i not in gone]
    s = " ".join(kept)
    s = re.sub(r"\s+([,.;:)])", r"\1", s)
    s = re.sub(r"([,;:]\s*)+([.;])", r"\2", s)
    s = re.sub(r"^[\s,.;:]+", "", s)
    return s.strip() or text


def articulation_only(text: str, gloss: str) -> str:
    """Drop sentences with meaning words and mentions of the gloss / its letter."""
    sents = [s for s in re.split(r"(?<=[.;!?])\s+", text) if not MEANING.search(s)]
    s = " ".join(sents) or text
    g = re.sub(r"[-_]+", " ", gloss).strip()
    if len(g) == 1:
        s = re.sub(rf"\b(letter|fingerspelled|the)\s+{re.escape(g)}\b(\s+handshape)?:?", "", s, flags=re.I)
        s = re.sub(rf"\b{re.escape(g)}\s+handshape\b", "handshape", s, flags=re.I)
    elif g:
        s = re.sub(rf"\b{re.escape(g)}\b", "", s, flags=re.I)
    s = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", s)).strip(" ,;:")
    return s or text


# ---------------------------------------------------------------- knowledge-base attribute texts
_GROUPS = {"handshape": ("handshape", "selected fingers", "flexion", "spread", "thumb", "orientation"),
           "location": ("location",), "movement": ("movement", "contact", "repeated", "wrist")}
_FIELD = re.compile(r"(?:^|(?<=\. ))([A-Z][A-Za-z]*(?: [A-Za-z]+){0,3}(?: \([a-z ]+\))?): ")


def kb_attributes(entry_text: str) -> dict[str, str]:
    """'Handshape: ... Location: ... Movement: ...' fields of a KB entry text -> one text per attribute."""
    marks = list(_FIELD.finditer(entry_text))
    out: dict[str, list[str]] = {k: [] for k in _GROUPS}
    for m, nxt in zip(marks, marks[1:] + [None], strict=True):
        label = m.group(1).lower()
        value = entry_text[m.end(): nxt.start() if nxt else len(entry_text)].strip()
        for group, keys in _GROUPS.items():
            if any(k in label for k in keys) and not label.startswith("sign type"):
                out[group].append(f"{m.group(1)}: {value}")
                break
    return {k: " ".join(v) for k, v in out.items() if v}


def traduttore_kb_attributes(kb_store: Path) -> dict[str, dict[str, str]]:
    """gloss -> {attribute: text} from the KB entry each gloss of the ``.kb`` store was rendered from."""
    from gspmc.describe.kb import load_entries, resolve_sources

    specs = [str(SHARED / "kb" / "asl-lex"), "builtin:asl-alphabet"]
    entries = {e.id: e for e in load_entries(resolve_sources(specs))}
    out = {}
    for line in kb_store.read_text(encoding="utf-8").splitlines()[1:]:
        rec = json.loads(line)
        eid = rec.get("provenance", {}).get("kb_entry")
        if eid in entries:
            attrs = kb_attributes(entries[eid].text)
            if set(attrs) == set(_GROUPS):
                out[rec["gloss"]] = attrs
    return out


# ---------------------------------------------------------------- driver
class Embedder:
    """Embeds texts once per encoder (memoised in memory, nothing written)."""

    def __init__(self, name: str):
        from gspmc.text.encoders import get_text_encoder

        self.enc = get_text_encoder(name)
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if new:
            for t, e in zip(new, self.enc.encode(new, batch_size=64), strict=True):
                self.memo[t] = e.astype(np.float64)
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, self.enc.dim))


def variants(store, classes: list[str]) -> dict[str, dict[str, dict[str, list[str]]]]:
    """variant -> gloss -> {"global": [...], "synonym": [...]}."""
    base = {g: {"global": store.texts[g]["global"], "synonym": store.texts[g]["synonym"]}
            for g in classes if g in store.texts and store.texts[g]["global"]}
    grams = boilerplate_ngrams([v["global"] + v["synonym"] for v in base.values()])
    return {"as-is": base,
            "no-boilerplate": {g: {k: [strip_ngrams(t, grams) for t in ts] for k, ts in v.items()} for g, v in base.items()},
            "articulation": {g: {k: [articulation_only(t, g) for t in ts] for k, ts in v.items()} for g, v in base.items()}}


def measure(emb: Embedder, texts: dict[str, dict[str, list[str]]]) -> dict[str, float | None]:
    glosses = list(texts)
    g_txt, g_lab, p_txt, p_lab, p_syn = [], [], [], [], []
    for i, g in enumerate(glosses):
        for t in texts[g]["global"]:
            g_txt.append(t)
            g_lab.append(i)
        for kind in ("global", "synonym"):
            for t in dict.fromkeys(texts[g][kind]):
                p_txt.append(t)
                p_lab.append(i)
                p_syn.append(kind == "synonym")
    ge, pe = emb(g_txt), emb(p_txt)
    return figures(ge, np.asarray(g_lab), pe, np.asarray(p_lab), np.asarray(p_syn))


def main(argv: list[str] | None = None) -> int:
    from gspmc.text.command import read_classes
    from gspmc.text.descriptions import read_store_texts

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoders", default=",".join(ENCODERS))
    ap.add_argument("--out", type=Path, default=None, help="write all figures as JSON")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--only", default="", help="comma-separated substrings: measure only the stores whose label has one")
    args = ap.parse_args(argv)

    trad_classes = read_classes(SHARED / "traduttore_asl33.npz")
    stores = [(f"traduttore/{n}", DESC / f, trad_classes) for n, f in TRADUTTORE]
    stores += [(n, DESC / f, read_classes(v)) for n, f, v in OTHERS]
    for name in NEW_STORES:
        for f in sorted(DESC.glob(f"{name}.*.jsonl")):
            stores.append((f.stem, f, None))
    if args.only:
        stores = [s for s in stores if any(k in s[0] for k in args.only.split(","))]
    attrs = traduttore_kb_attributes(DESC / "traduttore_asl33.kb.jsonl")
    results: dict = {"stores": {}, "attributes": {}, "boilerplate": {}}
    for enc_name in args.encoders.split(","):
        emb = Embedder(enc_name)
        for label, path, classes in stores:
            store = read_store_texts(path)
            cls = classes if classes is not None else list(store.texts)
            var = variants(store, cls)
            for vname, texts in var.items():
                if not label.startswith("traduttore") and vname == "articulation":
                    continue
                # the KB-attribute comparison uses the classes with a KB entry; the rest all classes
                r = measure(emb, texts)
                r["classes"] = len(texts)
                results["stores"].setdefault(label, {}).setdefault(enc_name, {})[vname] = r
                if label.startswith("traduttore"):
                    sub = {g: texts[g] for g in texts if g in attrs}
                    results["stores"][label][enc_name][vname + "@kb-classes"] = measure(emb, sub)
                print(f"{enc_name:16s} {label:22s} {vname:15s} " + " ".join(
                    f"{k}={v:.3f}" for k, v in r.items() if isinstance(v, float)), flush=True)
            if enc_name == ENCODERS[0] or label not in results["boilerplate"]:
                texts = var["as-is"]
                grams = boilerplate_ngrams([v["global"] + v["synonym"] for v in texts.values()])
                sample = next(iter(texts))
                results["boilerplate"][label] = {"ngrams": len(grams), "example_before": texts[sample]["global"][0],
                                                 "example_after": var["no-boilerplate"][sample]["global"][0]}
        glosses = [g for g in trad_classes if g in attrs]
        lab = np.arange(len(glosses))
        embs = {a: emb([attrs[g][a] for g in glosses]) for a in _GROUPS}
        results["attributes"][enc_name] = {"classes": len(glosses), **attr_figures(embs, lab)}
        print(enc_name, "kb attributes", json.dumps(results["attributes"][enc_name]), flush=True)
    results["attribute_example"] = attrs.get("coffee")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.markdown:
        print(markdown(results))
    return 0


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def markdown(results: dict) -> str:
    cols = ("mean", "near", "c-near", "within", "gap", "c-within", "nn", "s2g")
    lines = ["| store | encoder | texts | " + " | ".join(cols) + " |", "|---|---|---|" + "---|" * len(cols)]
    for label, per_enc in results["stores"].items():
        for enc, per_var in per_enc.items():
            for vname, r in per_var.items():
                if "@" in vname:
                    continue
                lines.append(f"| {label} | {enc} | {vname} | " + " | ".join(_f(r.get(c)) for c in cols) + " |")
    lines += ["", "| encoder | attribute (KB fields, one text per class) | mean | near | c-near |", "|---|---|---|---|---|"]
    for enc, per in results["attributes"].items():
        for a, r in per.items():
            if a != "classes":
                lines.append(f"| {enc} | {a} ({per['classes']} classes) | {_f(r['mean'])} | {_f(r['near'])} | {_f(r['c-near'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
