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
from gspmc.openvocab.protocol import EVAL_FILE

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


def zero_shot_table(evals: dict[str, list[dict]]) -> str:
    rows = []
    first = next(iter(evals.values()))
    rows.append(["chance", "-", _cell(first, lambda r: r["chance"]["top1"]), _cell(first, lambda r: r["chance"]["top5"]),
                 "", ""])
    for name, key in (("attributes <- raw inputs (ridge, NN)", "attributes_raw"),
                      ("attributes <- S_g of the run (ridge, NN)", "attributes_sg")):
        get1 = lambda r, key=key: r["baseline"][key]["top1"]  # noqa: E731
        rows.append([f"baseline: {name}", "KB, no text", _cell(first, get1),
                     _cell(first, lambda r, key=key: r["baseline"][key]["top5"]), *_fold_cells(first, get1)])
    for tag, runs in evals.items():
        for name in ("global", "global+parts"):
            get1 = lambda r, name=name: r["zero_shot"][name]["top1"]  # noqa: E731
            label = "GSP-MC text, global head" if name == "global" else "GSP-MC text, global + part heads (w on val)"
            rows.append([label, f"`{tag}`", _cell(runs, get1),
                         _cell(runs, lambda r, name=name: r["zero_shot"][name]["top5"]), *_fold_cells(runs, get1)])
    n = len(first)
    return (f"Zero-shot, {len(first[0]['split']['unseen'])}-way among the unseen classes, TEST = held-out signer's clips "
            f"({n} runs per store: folds x class splits)\n\n"
            + _table(["method", "store", "top-1", "top-5", "top-1 TCN", "top-1 dmo"], rows))


def gzsl_table(evals: dict[str, list[dict]]) -> str:
    rows = []
    for tag, runs in evals.items():
        for label, get in (
            ("embedding space, uncalibrated", lambda r: r["gzsl_embedding"]["uncalibrated"]),
            ("embedding space, calibrated stacking (gamma on val)", lambda r: r["gzsl_embedding"]["calibrated"]),
            ("recogniser (classifier + text prototypes), bias 0", lambda r: r["gzsl_recognizer"]["bias0"]),
            ("recogniser, bias on val", lambda r: r["gzsl_recognizer"]["calibrated"]),
        ):
            rows.append([label, f"`{tag}`", _cell(runs, lambda r, g=get: g(r)["seen"]),
                         _cell(runs, lambda r, g=get: g(r)["unseen"]), _cell(runs, lambda r, g=get: g(r)["h"])])
        rows.append(["(trained classifier alone, seen classes only: top-1)", f"`{tag}`",
                     _cell(runs, lambda r: r["gzsl_recognizer"]["classifier_seen_top1"]), "", ""])
    return ("Generalised zero-shot: seen + unseen classes, TEST = held-out signer's clips of both; per-class mean "
            "accuracy\n\n" + _table(["method", "store", "seen", "unseen", "H"], rows))


def few_shot_table(evals: dict[str, list[dict]]) -> str:
    rows = []
    for tag, runs in evals.items():
        rows.append(["0 (text only)", "text", f"`{tag}`", _cell(runs, lambda r: r["zero_shot"]["global"]["top1"]),
                     "", _cell(runs, lambda r: r["gzsl_recognizer"]["calibrated"]["seen"]),
                     _cell(runs, lambda r: r["gzsl_recognizer"]["calibrated"]["unseen"]),
                     _cell(runs, lambda r: r["gzsl_recognizer"]["calibrated"]["h"])])
        shots = sorted({int(k) for r in runs for k in r["few_shot"]})
        for k in shots:
            if "cross_signer/backbone/top1" in runs[0]["few_shot"][str(k)]:
                def gb(r: dict, where: str, k: int = k) -> float:
                    return r["few_shot"][str(k)][f"{where}/backbone/top1"]["mean"]
                rows.append([str(k), "clips, on S_g (no projection head)", f"`{tag}`",
                             _cell(runs, lambda r, gb=gb: gb(r, "cross_signer")),
                             _cell(runs, lambda r, gb=gb: gb(r, "own_signer")), "", "", ""])
            for tag2 in ("clips", "clips+text"):
                def g(r: dict, key: str, k: int = k, tag2: str = tag2) -> float:
                    return r["few_shot"][str(k)][f"{key.split('/')[0]}/{tag2}/{key.split('/')[1]}"]["mean"]
                rows.append([str(k), tag2, f"`{tag}`", _cell(runs, lambda r, g=g: g(r, "cross_signer/top1")),
                             _cell(runs, lambda r, g=g: g(r, "own_signer/top1")), _cell(runs, lambda r, g=g: g(r, "gzsl/seen")),
                             _cell(runs, lambda r, g=g: g(r, "gzsl/unseen")), _cell(runs, lambda r, g=g: g(r, "gzsl/h"))])
    return ("Few-shot enrolment, TEST queries = held-out signer's clips of the unseen classes; support: K clips per class "
            "from the training-side signers (cross-signer) or from the held-out signer's other clips (own signer)\n\n"
            + _table(["K", "prototype", "store", "top-1 cross-signer", "top-1 own signer",
                      "generalised: seen", "generalised: unseen", "generalised: H"], rows))


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
    return ("Settings chosen on the validation classes, per run (fold TCN splits 0-2, then dmo splits 0-2)\n\n"
            + _table(["store", "part weight w", "gamma", "recogniser bias (zero-shot)", "text weight by K",
                      "recogniser bias by K (clips+text)"], rows))


def tables(root: str | os.PathLike[str], stores: Sequence[str] | None = None) -> str:
    """All tables of docs/open-vocabulary.md for the evaluated runs under ``root``."""
    evals = load_evaluations(root, stores)
    if not evals:
        return f"no evaluated run under {root} (run `bench/openvocab.py evaluate` first)"
    return "\n\n".join([zero_shot_table(evals), gzsl_table(evals), few_shot_table(evals), settings_table(evals)])
