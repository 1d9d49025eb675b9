"""Markdown tables of the open-vocabulary protocol from the runs' ``openvocab_eval.json`` files.

Every number is a TEST number on the held-out signer (signer-independent), mean ± sample std over
the runs of a store (fold x class split); few-shot values are first averaged over the support draws
of a run. "TCN" / "dmo" columns are the per-fold means.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gspmc.io import read_json
from gspmc.openvocab.protocol import CE_TAG, EVAL_FILE
from gspmc.train.paired import stratified_interval

FOLD_SHORT = {"TheCamNelson": "TCN", "dmohazab": "dmo"}


def load_evaluations(root: str | os.PathLike[str], stores: Sequence[str] | None = None) -> dict[str, list[dict]]:
    """Store tag -> the evaluation dicts of its runs (sorted by fold, split)."""
    root = Path(root)
    tags = stores or sorted(p.name for p in root.iterdir() if p.is_dir())
    out: dict[str, list[dict]] = {}
    for tag in tags:
        files = sorted((root / tag).glob(f"*/split*/{EVAL_FILE}"))
        if files:
            out[tag] = [read_json(f) for f in files]
    return out


def _fmt(values: Sequence[float], pct: bool = True) -> str:
    v = np.asarray([x for x in values if x == x], np.float64)
    if v.size == 0:
        return "-"
    scale = 100.0 if pct else 1.0
    if v.size == 1:
        return f"{scale * v[0]:.1f}"
    return f"{scale * v.mean():.1f} ± {scale * v.std(ddof=1):.1f}"


def _cell(runs: list[dict], get: Callable[[dict], float]) -> str:
    return _fmt([get(r) for r in runs])


def _fold_cells(runs: list[dict], get: Callable[[dict], float]) -> list[str]:
    cells = []
    for fold in FOLD_SHORT:
        vals = [get(r) for r in runs if r["split"]["fold"] == fold]
        cells.append(f"{100 * np.mean(vals):.1f}" if vals else "-")
    return cells


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _short(tag: str) -> str:
    return f"`{tag}`"


def zero_shot_table(evals: dict[str, list[dict]]) -> str:
    """Top-1 (top-5) among the unseen classes; one column per store (the baselines need no store)."""
    tags = list(evals)
    first = evals[tags[0]]

    def cell(runs: list[dict], get: Callable[[dict], dict]) -> str:
        return f"{_cell(runs, lambda r: get(r)['top1'])} ({_fmt([get(r)['top5'] for r in runs])})"

    rows = [["chance", "-", *[cell(evals[t], lambda r: r["chance"]) for t in tags]]]
    for name, key in (("knowledge-base attributes <- raw inputs (ridge), nearest class", "attributes_raw"),
                      ("knowledge-base attributes <- S_g of the run (ridge), nearest class", "attributes_sg")):
        rows.append([f"baseline: {name}", "no", *[cell(evals[t], lambda r, k=key: r["baseline"][k]) for t in tags]])
    for name, label in (("global", "GSP-MC: text prototypes, global head"),
                        ("global+parts", "GSP-MC: global + part heads (part weight on val)")):
        rows.append([label, "yes", *[cell(evals[t], lambda r, n=name: r["zero_shot"][n]) for t in tags]])
    n_u = len(first[0]["split"]["unseen"])
    return (f"Zero-shot, {n_u}-way among the unseen classes. TEST = the held-out signer's clips of the unseen classes; "
            f"top-1 % (top-5 %), mean ± std over {len(first)} runs (2 folds x {len(first) // 2} class splits); the "
            "baselines use no description, so they repeat across the store columns (they depend on the run only "
            "through its S_g)\n\n"
            + _table(["method", "text", *map(_short, tags)], rows))


def zero_shot_runs_table(evals: dict[str, list[dict]]) -> str:
    """Per run: zero-shot top-1 of each method (paired over the same class split)."""
    tags = list(evals)
    first = evals[tags[0]]
    header = ["run (fold, split): unseen classes", "attributes <- raw", "attributes <- S_g"]
    header += [f"{_short(t)} global" for t in tags] + [f"{_short(t)} global + parts" for t in tags]
    rows = []
    for i, r0 in enumerate(first):
        sp = r0["split"]
        row = [f"{FOLD_SHORT.get(sp['fold'], sp['fold'])} {sp['seed']}: {', '.join(sp['unseen'])}",
               f"{100 * r0['baseline']['attributes_raw']['top1']:.1f}",
               "/".join(f"{100 * evals[t][i]['baseline']['attributes_sg']['top1']:.0f}" for t in tags)]
        row += [f"{100 * evals[t][i]['zero_shot']['global']['top1']:.1f}" for t in tags]
        row += [f"{100 * evals[t][i]['zero_shot']['global+parts']['top1']:.1f}" for t in tags]
        rows.append(row)
    return ("Zero-shot TEST top-1 % per run (the same class split in every column; attributes <- S_g per store, "
            "separated by /)\n\n" + _table(header, rows))


def gzsl_table(evals: dict[str, list[dict]]) -> str:
    """Generalised zero-shot: seen / unseen / H per store."""
    tags = list(evals)

    def cell(runs: list[dict], get: Callable[[dict], dict]) -> str:
        return " / ".join(_fmt([get(r)[k] for r in runs]) for k in ("seen", "unseen", "h"))

    rows = [[label, *[cell(evals[t], get) for t in tags]] for label, get in (
        ("embedding space (text prototypes for every class), uncalibrated", lambda r: r["gzsl_embedding"]["uncalibrated"]),
        ("embedding space, calibrated stacking (gamma on val)", lambda r: r["gzsl_embedding"]["calibrated"]),
        ("recogniser: classifier + text prototypes, bias 0", lambda r: r["gzsl_recognizer"]["bias0"]),
        ("recogniser: classifier + text prototypes, bias on val", lambda r: r["gzsl_recognizer"]["calibrated"]))]
    rows.append(["(the trained classifier alone on the seen classes' clips: top-1)",
                 *[_cell(evals[t], lambda r: r["gzsl_recognizer"]["classifier_seen_top1"]) for t in tags]])
    return ("Generalised zero-shot: label space = seen + unseen classes; TEST = the held-out signer's clips of both; "
            "per-class mean accuracy % on seen / unseen classes / harmonic mean H\n\n"
            + _table(["method", *map(_short, tags)], rows))


def few_shot_table(evals: dict[str, list[dict]]) -> str:
    """Few-shot: U-way top-1 cross-signer / own signer, and the enrolled recogniser over seen + unseen."""
    tags = list(evals)
    shots = sorted({int(k) for r in evals[tags[0]] for k in r["few_shot"]})

    def fs(r: dict, k: int, key: str) -> float:
        return r["few_shot"][str(k)][key]["mean"]

    rows = [["0", "text only (zero-shot)", *[f"{_cell(evals[t], lambda r: r['zero_shot']['global']['top1'])} / -"
                                              for t in tags]]]
    for k in shots:
        for label, key in (("clips", "clips"), ("clips + text (text weight on val)", "clips+text"),
                           ("clips, on S_g (before the projection head)", "backbone")):
            if f"cross_signer/{key}/top1" not in evals[tags[0]][0]["few_shot"][str(k)]:
                continue
            rows.append([str(k), label, *[
                f"{_cell(evals[t], lambda r, k=k, key=key: fs(r, k, f'cross_signer/{key}/top1'))} / "
                f"{_cell(evals[t], lambda r, k=k, key=key: fs(r, k, f'own_signer/{key}/top1'))}" for t in tags]])
    table1 = _table(["K", "prototype", *map(_short, tags)], rows)
    rows = [["0", "text only", *[" / ".join(_fmt([r["gzsl_recognizer"]["calibrated"][m] for r in evals[t]])
                                          for m in ("seen", "unseen", "h")) for t in tags]]]
    for k in shots:
        for label, key in (("clips", "clips"), ("clips + text", "clips+text")):
            rows.append([str(k), label, *[" / ".join(_fmt([fs(r, k, f"gzsl/{key}/{m}") for r in evals[t]])
                                               for m in ("seen", "unseen", "h")) for t in tags]])
    table2 = _table(["K", "prototype", *map(_short, tags)], rows)
    return ("Few-shot enrolment, unseen-way top-1 %: support from the training-side signers (cross-signer) / from the "
            "held-out signer's other clips (own signer); TEST queries = the held-out signer's clips of the unseen "
            "classes; each run averaged over its support draws, then mean ± std over runs\n\n" + table1
            + "\n\nGeneralised few-shot: the enrolled recogniser (trained classifier + enrolled prototypes, per-class "
            "bias on val) over seen + unseen classes, cross-signer support; per-class mean accuracy % seen / unseen / H"
            "\n\n" + table2)


def settings_table(evals: dict[str, list[dict]]) -> str:
    rows = []
    for tag, runs in evals.items():
        def vals(get: Callable[[dict], Any], runs: list[dict] = runs) -> str:
            return ", ".join(f"{get(r):g}" for r in runs)
        rows.append([f"`{tag}`", vals(lambda r: r["zero_shot"]["part_weight"]), vals(lambda r: r["gzsl_embedding"]["gamma"]),
                     vals(lambda r: r["gzsl_recognizer"]["bias"]),
                     "; ".join(f"{k}: " + vals(lambda r, k=k: r["few_shot"][k]["text_weight"])
                               for k in sorted(runs[0]["few_shot"], key=int)),
                     "; ".join(f"{k}: " + vals(lambda r, k=k: r["few_shot"][k]["bias"]["clips+text"])
                               for k in sorted(runs[0]["few_shot"], key=int))])
    order = ", ".join(f"{FOLD_SHORT.get(r['split']['fold'], r['split']['fold'])} {r['split']['seed']}"
                      for r in next(iter(evals.values())))
    return (f"Settings chosen on the validation classes, per run ({order})\n\n"
            + _table(["store", "part weight w", "gamma", "recogniser bias (zero-shot)", "text weight by K",
                      "recogniser bias by K (clips+text)"], rows))


def _paired(ce: list[dict], runs: list[dict], get_row: Callable[[dict], float],
            get_ce: Callable[[dict], float]) -> tuple[str, int]:
    """``row - CE`` in points over the runs of the same (fold, split): the per-fold means (TCN / dmo) and the
    fold-stratified pooled mean with its 95% CI, as two table cells; and the pair count."""
    by_split = {(r["split"]["fold"], r["split"]["seed"]): r for r in ce}
    groups: dict[str, list[float]] = {}
    for r in runs:
        key = (r["split"]["fold"], r["split"]["seed"])
        if key in by_split:
            groups.setdefault(key[0], []).append(100.0 * (get_row(r) - get_ce(by_split[key])))
    n = sum(len(g) for g in groups.values())
    if not n:
        return "- | -", 0
    mean, _, lo, hi, _ = stratified_interval(groups)
    per_fold = " / ".join(f"{np.mean(groups[f]):+.1f}" if f in groups else "-" for f in FOLD_SHORT)
    return per_fold + " | " + (f"{mean:+.1f}" if lo != lo else f"{mean:+.1f} [{lo:+.1f}, {hi:+.1f}]"), n


def ce_baseline_table(ce: list[dict], evals: dict[str, list[dict]]) -> str:
    """Few-shot and the attribute baseline: the CE-only backbone against each GSP-MC store's runs, paired by
    (fold, class split): the same support clips in every run of a split (``support_draw``)."""
    shots = sorted({int(k) for r in ce for k in r["few_shot"]})

    def fs(r: dict, k: int, key: str) -> float:
        return r["few_shot"][str(k)][key]["mean"]

    rows, n_pairs = [], 0
    for tag, runs in evals.items():
        for k in shots:
            for where in ("cross_signer", "own_signer"):
                ce_get = lambda r, k=k, w=where: fs(r, k, f"{w}/backbone/top1")  # noqa: E731
                for label, key in (("GSP-MC, S_g", "backbone"), ("GSP-MC, text space", "clips")):
                    get = lambda r, k=k, w=where, key=key: fs(r, k, f"{w}/{key}/top1")  # noqa: E731
                    diff, n = _paired(ce, runs, get, ce_get)
                    n_pairs = max(n_pairs, n)
                    rows.append([f"few-shot K = {k}, {where.replace('_', ' ')}", f"{_short(tag)}: {label}",
                                 _cell(ce, ce_get), _cell(runs, get), diff])
        get_a = lambda r: r["baseline"]["attributes_sg"]["top1"]  # noqa: E731
        rows.append(["attributes <- S_g (ridge), zero-shot", f"{_short(tag)}: S_g", _cell(ce, get_a), _cell(runs, get_a),
                     _paired(ce, runs, get_a, get_a)[0]])
        get_c = lambda r: r["classifier_seen_top1"]  # noqa: E731
        get_g = lambda r: r["gzsl_recognizer"]["classifier_seen_top1"]  # noqa: E731
        rows.append(["trained classifier, seen classes' test clips", _short(tag), _cell(ce, get_c), _cell(runs, get_g),
                     _paired(ce, runs, get_g, get_c)[0]])
    return (f"The CE-only backbone (`{CE_TAG}`: the same recipe and seeds, GSP-MC off) against GSP-MC: TEST top-1 % on "
            "the held-out signer, mean ± std over runs; paired = GSP-MC - CE in points over the runs of the same fold "
            f"and class split (up to {n_pairs} pairs), fold-stratified 95% CI\n\n"
            + _table(["what", "GSP-MC arm", "CE-only, S_g", "GSP-MC", "paired TCN / dmo", "paired, pooled"], rows))


def tables(root: str | os.PathLike[str], stores: Sequence[str] | None = None) -> str:
    """All tables of docs/open-vocabulary.md for the evaluated runs under ``root``; with CE-only runs
    (folder ``ce``) also the CE baseline table."""
    evals = load_evaluations(root, stores)
    ce = evals.pop(CE_TAG, None)
    if ce is None and stores:  # the CE runs pair with any store's, listed or not
        ce = load_evaluations(root, [CE_TAG]).get(CE_TAG)
    if not evals and not ce:
        return f"no evaluated run under {root} (run `bench/openvocab.py evaluate` first)"
    if not evals:
        return f"only CE-only runs under {root}: evaluate a GSP-MC store's runs to compare against"
    parts = [zero_shot_table(evals), zero_shot_runs_table(evals), gzsl_table(evals), few_shot_table(evals),
             settings_table(evals)]
    if ce:
        parts.append(ce_baseline_table(ce, evals))
    return "\n\n".join(parts)
