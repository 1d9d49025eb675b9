"""TextBank: the cached text embeddings of a store, aligned BY GLOSS NAME to a dataset's classes.

For each kind (``global``, ``synonym``, each description part) the bank holds a matrix of
embeddings (M, d) and the class index of each row (M,), rows sorted by class. Alignment:

- a dataset class matches the store gloss of the same name; failing that, the gloss whose
  normalised name is equal (case-folded, ``_``/``-``/spaces unified), if exactly one does
  (listed in :attr:`TextBank.renamed`). Position in the store never matters.
- a class with no gloss in the store (or whose record failed) has no rows in any kind
  (:attr:`TextBank.missing_classes`); a class with a gloss but no text of some kind has no rows
  in that kind (:meth:`TextBank.classes_without`). In the loss such classes simply have no
  positive text: their samples contribute no term of that kind.
- store glosses that are no dataset class are ignored (:attr:`TextBank.extra_glosses`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.errors import ConfigError, DataError
from gspmc.text.cache import EmbeddingCache, default_cache_path, load_cache, update_cache
from gspmc.text.descriptions import StoreTexts, read_store_texts
from gspmc.text.encoders import TextEncoder, get_text_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KindBank:
    """The texts of one kind: ``embeddings`` (M, d) float32, ``labels`` (M,) int64, sorted by label."""

    embeddings: np.ndarray
    labels: np.ndarray
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def cross_class_similarity(self, threshold: float = 0.9) -> tuple[float, list[tuple[int, int, float]]]:
        """How far apart the texts of different classes are, in the encoder's space.

        Returns the mean cosine similarity over pairs of texts of different classes (nan with fewer
        than two classes) and the class pairs (i, j, max cosine), i < j, that have a text pair at or
        above ``threshold``, most similar first. Near-identical texts for different signs are
        contradictory targets for the contrastive loss (Eq. 9 calls one a positive, the other a
        negative), so they are worth fixing in the store.
        """
        e = self.embeddings.astype(np.float64)  # (M, d), rows L2-normalised
        sim = e @ e.T  # (M, M)
        diff = self.labels[:, None] != self.labels[None, :]  # (M, M)
        if not diff.any():
            return float("nan"), []
        best: dict[tuple[int, int], float] = {}
        for a, b in zip(*np.nonzero(diff & (sim >= threshold)), strict=True):
            i, j = sorted((int(self.labels[a]), int(self.labels[b])))
            best[(i, j)] = max(best.get((i, j), -1.0), float(sim[a, b]))
        pairs = sorted(((i, j, v) for (i, j), v in best.items()), key=lambda p: -p[2])
        return float(sim[diff].mean()), pairs


    def separability(self, classes: Sequence[str], threshold: float = 0.9) -> dict[str, Any]:
        """How well this kind's texts tell the classes apart (the gate of docs/mc.md).

        Returns a JSON-ready dict: ``texts``, ``classes`` (with a text), ``mean_cross_cosine`` (mean
        over pairs of texts of different classes; None with fewer than two classes),
        ``max_cross_cosine`` and ``max_pair`` (the two class names), ``mean_nearest_other``
        (for each text the cosine to the closest text of another class, averaged: how confusable the
        texts are; all cosines depend on the encoder, e5 puts any two sign descriptions near 0.9),
        ``pairs_at_threshold`` (class
        pairs with a text pair >= ``threshold``: [a, b, cosine], most similar first) and
        ``shared_texts`` ({text: [class names]} for the same string written for several classes).
        """
        mean, pairs = self.cross_class_similarity(threshold)
        e = self.embeddings.astype(np.float64)
        diff = self.labels[:, None] != self.labels[None, :]  # (M, M)
        out: dict[str, Any] = {"texts": len(self), "classes": int(len(set(self.labels.tolist()))),
                               "threshold": threshold,
                               "mean_cross_cosine": None if mean != mean else round(mean, 4),
                               "max_cross_cosine": None, "max_pair": None}
        if diff.any():
            sim = np.where(diff, e @ e.T, -np.inf)  # (M, M)
            a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
            out["max_cross_cosine"] = round(float(sim[a, b]), 4)
            out["max_pair"] = sorted([classes[int(self.labels[a])], classes[int(self.labels[b])]])
        out["mean_nearest_other"] = None
        if diff.any():
            near = np.where(diff, e @ e.T, -np.inf).max(axis=1)  # (M,) closest text of another class
            out["mean_nearest_other"] = round(float(near[np.isfinite(near)].mean()), 4)
        out["pairs_at_threshold"] = [[classes[i], classes[j], round(v, 4)] for i, j, v in pairs]
        out["shared_texts"] = {t: [classes[c] for c in cs] for t, cs in self.shared_texts().items()}
        out.update(self.recognition_figures())
        return out

    def recognition_figures(self) -> dict[str, float | None]:
        """Figures that do not move with the encoder's overall cosine level (docs/mc.md, "encoder or texts?").

        - ``centred_nearest_other``: ``mean_nearest_other`` after subtracting the kind's mean embedding
          and re-normalising (a common "this is a sign description" direction inflates every raw cosine;
          the centred mean itself is about -1/(K-1) by construction, so only the nearest is reported);
        - ``mean_within_class``: mean cosine between two different texts of the same class;
        - ``within_cross_gap``: ``mean_within_class`` minus the mean cross-class cosine;
        - ``nearest_text_accuracy``: over the texts whose class has another text, the share whose closest
          other text (leave-one-out) is of its own class.

        Each is None where undefined (fewer than two classes; no class with two texts).
        """
        out: dict[str, float | None] = {"centred_nearest_other": None, "mean_within_class": None,
                                        "within_cross_gap": None, "nearest_text_accuracy": None}
        m = len(self)
        if m == 0:
            return out
        e = self.embeddings.astype(np.float64)  # (M, d)
        eye = np.eye(m, dtype=bool)
        diff = self.labels[:, None] != self.labels[None, :]  # (M, M)
        same = ~diff & ~eye
        sim = e @ e.T  # (M, M)
        if diff.any():
            c = e - e.mean(axis=0, keepdims=True)
            c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
            near = np.where(diff, c @ c.T, -np.inf).max(axis=1)  # (M,)
            out["centred_nearest_other"] = round(float(near[np.isfinite(near)].mean()), 4)
        if same.any():
            within = float(sim[same].mean())
            out["mean_within_class"] = round(within, 4)
            if diff.any():
                out["within_cross_gap"] = round(within - float(sim[diff].mean()), 4)
            rows = same.any(axis=1)  # (M,) texts with a same-class partner
            nearest = np.where(eye, -np.inf, sim).argmax(axis=1)  # (M,)
            out["nearest_text_accuracy"] = round(float((self.labels[nearest] == self.labels)[rows].mean()), 4)
        return out

    def shared_texts(self) -> dict[str, list[int]]:
        """Texts (exact strings) that belong to more than one class -> the sorted class indices."""
        owners: dict[str, set[int]] = {}
        for text, label in zip(self.texts, self.labels.tolist(), strict=True):
            owners.setdefault(text, set()).add(int(label))
        return {t: sorted(c) for t, c in owners.items() if len(c) > 1}

    def table(self, num_classes: int, shared: str = "merge", merge_cosine: float | None = None) -> TextTable:
        """The texts as rows with a class-membership mask, for the multi-positive targets of Eq. 9.

        ``shared``: what to do with a text that several classes have (the same string, or, with
        ``merge_cosine``, texts at least that cosine-similar, joined transitively):

        - ``"merge"``: one row, positive for every class that has it (Eq. 9 with a set of labels per text);
        - ``"drop"``: remove it (it carries no information about which of its classes a clip is);
        - ``"keep"``: one row per (class, text), each positive for its own class only (the literal reading,
          which makes identical texts positive for one class and negative for another).
        """
        if shared not in SHARED_MODES:
            raise ConfigError(f"shared texts: expected one of {', '.join(SHARED_MODES)}, got {shared!r}")
        m = len(self)
        if shared == "keep" or m == 0:
            member = np.zeros((m, num_classes), dtype=bool)  # (M, K)
            member[np.arange(m), self.labels] = True
            return TextTable(self.embeddings, member, self.texts)
        group = _text_groups(self.texts, self.embeddings, merge_cosine)  # (M,) group id, first row's index
        rows = sorted(set(group.tolist()))
        member = np.zeros((len(rows), num_classes), dtype=bool)  # (U, K)
        pos = {g: i for i, g in enumerate(rows)}
        for r, g in enumerate(group.tolist()):
            member[pos[g], self.labels[r]] = True
        emb, texts = self.embeddings[rows], tuple(self.texts[g] for g in rows)
        if shared == "drop":
            keep = member.sum(axis=1) == 1
            emb, member, texts = emb[keep], member[keep], tuple(t for t, k in zip(texts, keep, strict=True) if k)
        return TextTable(np.ascontiguousarray(emb), member, texts)


SHARED_MODES = ("merge", "drop", "keep")
POOLED_KIND = "global+synonym"  # a report-only kind of TextBank.separability (not a training kind)


def _text_groups(texts: Sequence[str], emb: np.ndarray, merge_cosine: float | None) -> np.ndarray:
    """(M,) for each row the index of the first row of its group: equal strings, and (optionally) rows
    with cosine >= ``merge_cosine``, joined transitively (union-find)."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        union(first.setdefault(t, i), i)
    if merge_cosine is not None and len(texts) > 1:
        sim = emb.astype(np.float64) @ emb.astype(np.float64).T  # (M, M), unit rows
        for a, b in zip(*np.nonzero(np.triu(sim >= merge_cosine, k=1)), strict=True):
            union(int(a), int(b))
    return np.asarray([find(i) for i in range(len(texts))], dtype=np.int64)


@dataclass(frozen=True)
class TextTable:
    """Distinct texts of one kind: ``embeddings`` (U, d), ``member`` (U, K) bool (the classes each text is
    a positive of), ``texts`` (U,). Built by :meth:`KindBank.table`."""

    embeddings: np.ndarray
    member: np.ndarray
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.member.shape[0])


def merge_banks(banks: Sequence[KindBank]) -> KindBank:
    """Several kinds as one (e.g. the description parts mapped to one model part): the (class, text)
    pairs of all of them, each pair once, rows sorted by class."""
    embs, labels, texts, seen = [], [], [], set()
    for kb in banks:
        for row, (text, label) in enumerate(zip(kb.texts, kb.labels.tolist(), strict=True)):
            if (label, text) not in seen:
                seen.add((label, text))
                embs.append(kb.embeddings[row])
                labels.append(label)
                texts.append(text)
    if not labels:
        dim = banks[0].embeddings.shape[1] if banks else 0
        return KindBank(np.zeros((0, dim), np.float32), np.zeros((0,), np.int64), ())
    order = np.argsort(np.asarray(labels), kind="stable")
    return KindBank(np.stack(embs)[order].astype(np.float32), np.asarray(labels, np.int64)[order],
                    tuple(texts[i] for i in order))


@dataclass(frozen=True)
class TextBank:
    """Cached text embeddings per kind, aligned to ``classes`` (see module docstring)."""

    classes: tuple[str, ...]
    encoder_id: str
    dim: int
    parts: tuple[str, ...]
    kinds: dict[str, KindBank]
    missing_classes: tuple[str, ...] = ()
    failed_classes: tuple[str, ...] = ()
    extra_glosses: tuple[str, ...] = ()
    renamed: dict[str, str] = field(default_factory=dict)

    def classes_without(self, kind: str) -> list[str]:
        """Dataset classes with no text of ``kind``."""
        have = set(self.kinds[kind].labels.tolist())
        return [c for i, c in enumerate(self.classes) if i not in have]

    def separability(self, threshold: float = 0.9) -> dict[str, dict[str, Any]]:
        """:meth:`KindBank.separability` of every kind (global, synonym, each description part), and of
        ``global+synonym`` (the two pooled: the synonyms are the same-class partners of the global texts,
        which gives the global texts a within-class cosine and a nearest-text accuracy)."""
        sep = {kind: kb.separability(self.classes, threshold) for kind, kb in self.kinds.items()}
        if "global" in self.kinds and len(self.kinds.get("synonym", ())):
            sep[POOLED_KIND] = merge_banks([self.kinds["global"], self.kinds["synonym"]]).separability(
                self.classes, threshold)
        return sep

    def report(self) -> str:
        """A few lines saying what the bank holds and which classes lack texts."""
        lines = [f"text bank: {len(self.classes)} classes, encoder {self.encoder_id}, dim {self.dim}"]
        for kind, kb in self.kinds.items():
            lacking = self.classes_without(kind)
            lines.append(f"  {kind}: {len(kb)} texts" + (f"; no text for {len(lacking)} classes: {_short(lacking)}"
                                                          if lacking else ""))
        lines.append(format_separability(self.separability()))
        if self.missing_classes:
            lines.append(f"  classes not in the store: {_short(self.missing_classes)}")
        if self.failed_classes:
            lines.append(f"  classes whose description failed: {_short(self.failed_classes)}")
        if self.renamed:
            lines.append("  matched by normalised name: " + ", ".join(f"{c!r}->{g!r}" for c, g in self.renamed.items()))
        if self.extra_glosses:
            lines.append(f"  store glosses not in the dataset (ignored): {_short(self.extra_glosses)}")
        return "\n".join(lines)


def format_separability(sep: dict[str, dict[str, Any]], pairs: int = 5) -> str:
    """The separability figures as a table (one line per kind) plus the closest class pairs and the
    texts shared by several classes."""
    lines = ["  separability (cosine between texts of different classes; lower = easier to tell apart):",
             "  | kind | texts | classes | mean | mean nearest other | max (pair) | class pairs >= 0.9 | shared texts |",
             "  |---|---|---|---|---|---|---|---|"]
    extra = []
    for kind, st in sep.items():
        if not st["texts"]:
            continue
        mean = "-" if st["mean_cross_cosine"] is None else f"{st['mean_cross_cosine']:.2f}"
        near = "-" if st.get("mean_nearest_other") is None else f"{st['mean_nearest_other']:.2f}"
        mx = "-" if st["max_cross_cosine"] is None else f"{st['max_cross_cosine']:.2f} ({'~'.join(st['max_pair'])})"
        lines.append(f"  | {kind} | {st['texts']} | {st['classes']} | {mean} | {near} | {mx} | {len(st['pairs_at_threshold'])} | "
                     f"{len(st['shared_texts'])} |")
        if st["pairs_at_threshold"]:
            shown = ", ".join(f"{a}~{b} {v:.2f}" for a, b, v in st["pairs_at_threshold"][:pairs])
            more = len(st["pairs_at_threshold"]) - pairs
            extra.append(f"  {kind}: pairs >= {st['threshold']:g}: {shown}" + (f" (+{more} more)" if more > 0 else ""))
        for text, owners in list(st["shared_texts"].items())[:3]:
            extra.append(f"  {kind}: {len(owners)} classes share {text[:60]!r}: {_short(owners, 6)}")
    rec = ["  recognition view (centred: the direction all texts share removed; nearest text same class: a rank, "
           "comparable across encoders; docs/mc.md):",
           "  | kind | centred nearest other | within class | within - cross | nearest text same class |",
           "  |---|---|---|---|---|"]
    for kind, st in sep.items():
        if not st["texts"] or "centred_nearest_other" not in st:
            continue
        rec.append(f"  | {kind} | {_fmt(st['centred_nearest_other'])} | {_fmt(st['mean_within_class'])} | "
                   f"{_fmt(st['within_cross_gap'])} | {_fmt(st['nearest_text_accuracy'])} |")
    return "\n".join(lines + extra + (rec if len(rec) > 3 else []))


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _short(names: Sequence[str], k: int = 12) -> str:
    names = list(names)
    return ", ".join(repr(n) for n in names[:k]) + (f" (+{len(names) - k} more)" if len(names) > k else "")


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().casefold()).strip()


def match_classes(classes: Sequence[str], glosses: Sequence[str]) -> tuple[dict[int, str], dict[str, str]]:
    """Map class index -> store gloss by name (exact, else unique normalised name).

    Returns (matches, renamed) where ``renamed`` lists class -> gloss pairs matched by the
    normalised name. Duplicate class names raise ConfigError.
    """
    if len(set(classes)) != len(classes):
        dup = sorted({c for c in classes if list(classes).count(c) > 1})
        raise ConfigError(f"dataset class list has duplicate names {dup}: cannot align texts by name")
    gloss_set = set(glosses)
    matches = {i: c for i, c in enumerate(classes) if c in gloss_set}
    used = set(matches.values())
    by_norm: dict[str, list[str]] = {}
    for g in glosses:
        if g not in used:
            by_norm.setdefault(_norm_name(g), []).append(g)
    class_norm: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        if i not in matches:
            class_norm.setdefault(_norm_name(c), []).append(i)
    renamed: dict[str, str] = {}
    for key, idx in class_norm.items():
        cands = by_norm.get(key, [])
        if len(idx) == 1 and len(cands) == 1:
            matches[idx[0]] = cands[0]
            renamed[classes[idx[0]]] = cands[0]
    return matches, renamed


def build_text_bank(store: StoreTexts, cache: EmbeddingCache, classes: Sequence[str]) -> TextBank:
    """Assemble the bank for ``classes`` (dataset order) from a store and its embedding cache."""
    classes = list(classes)
    ok_glosses = list(store.texts)
    matches, renamed = match_classes(classes, ok_glosses + [g for g in store.failed if g not in store.texts])
    failed = set(store.failed)
    kinds: dict[str, KindBank] = {}
    for kind in store.kinds:
        texts: list[str] = []
        labels: list[int] = []
        for ci in range(len(classes)):  # rows sorted by class
            gloss = matches.get(ci)
            if gloss is None or gloss in failed:
                continue
            for t in store.texts[gloss][kind]:
                texts.append(t)
                labels.append(ci)
        emb = cache.lookup(texts) if texts else np.zeros((0, cache.dim), dtype=np.float32)  # (M, d)
        kinds[kind] = KindBank(emb, np.asarray(labels, dtype=np.int64), tuple(texts))
    matched = set(matches.values())
    return TextBank(
        classes=tuple(classes),
        encoder_id=cache.encoder_id,
        dim=cache.dim,
        parts=store.parts,
        kinds=kinds,
        missing_classes=tuple(c for i, c in enumerate(classes) if i not in matches),
        failed_classes=tuple(c for i, c in enumerate(classes) if matches.get(i) in failed),
        extra_glosses=tuple(g for g in ok_glosses if g not in matched),
        renamed=renamed,
    )


def load_text_bank(
    store: str | PathLike[str],
    classes: Sequence[str],
    encoder: str | TextEncoder = "minilm",
    cache: str | PathLike[str] | None = None,
    embed_missing: bool = True,
    progress: bool = False,
) -> TextBank:
    """Read ``store`` and its embedding cache and build the bank for ``classes``.

    The encoder is only loaded when the cache lacks texts of the store and ``embed_missing`` is
    True (then the cache file is updated exactly as ``gspmc embed`` would); with
    ``embed_missing=False`` a stale or missing cache raises DataError. A cache written by another
    encoder always raises DataError (rebuild it with ``gspmc embed --rebuild``). Classes without
    any description are logged as a warning (and listed by :meth:`TextBank.report`).
    """
    texts = read_store_texts(store)
    enc = get_text_encoder(encoder) if isinstance(encoder, str) else encoder
    cache_path = Path(cache) if cache is not None else default_cache_path(texts.path, enc)
    if embed_missing:
        emb_cache, _ = update_cache(texts.all_texts(), enc, cache_path, source=texts.path.name, progress=progress)
    else:
        emb_cache = load_cache(cache_path)
        if emb_cache.encoder_id != enc.id:
            raise DataError(cache_path, f"embedding cache was built with encoder {emb_cache.encoder_id!r}, not "
                            f"{enc.id!r}; rebuild it with `gspmc embed --rebuild`")
    bank = build_text_bank(texts, emb_cache, classes)
    lacking = bank.missing_classes + bank.failed_classes
    if lacking:
        log.warning("%s: %d of %d classes have no description (their samples get no contrastive term): %s",
                    texts.path, len(lacking), len(bank.classes), _short(lacking))
    return bank
