"""Paired comparisons for docs/results.md section 6 (issue 20), from finished `gspmc grid` runs.

For each compared row against a baseline row: per fold, the paired differences (row - baseline, same
seed) in VALIDATION top-1, validation loss and TEST top-1 (and TEST without the idle class ``-``), and
a fold-stratified pooled estimate: the mean of the fold means, with the within-fold variance
``s_w^2 = sum_f sum_s (d_fs - mean_f)^2 / (n - F)``, ``SE = sqrt(s_w^2 sum_f 1/n_f) / F`` and a
Student-t 95% CI with ``n - F`` degrees of freedom (n pairs, F folds): gspmc.train.paired.stratified_interval.

    python bench/issue20_analysis.py --out runs/lm/probe --baseline landmark-small --rows ctrgcn ...
        [--streams joint bone] [--fused joint bone] [--json runs/lm/analysis.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from gspmc.train.fit import read_result
from gspmc.train.paired import stratified_interval, t_quantile

FOLDS = ("TheCamNelson", "dmohazab")


def stratified(per_fold: dict[str, list[float]]) -> dict[str, float]:
    """Fold-stratified mean paired difference and 95% CI (gspmc.train.paired.stratified_interval)."""
    mean, _, low, high, df = stratified_interval({f: d for f, d in per_fold.items() if len(d)})
    return {"n": sum(len(d) for d in per_fold.values()), "mean": mean, "low": low, "high": high, "df": df}


def fold_ci(d: list[float]) -> tuple[float, float, float]:
    a = np.asarray(d, float)
    if len(a) < 2:
        return (float(a.mean()) if len(a) else math.nan, math.nan, math.nan)
    half = t_quantile(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a))
    return float(a.mean()), float(a.mean() - half), float(a.mean() + half)


def no_idle_top1(run_dir: Path) -> float | None:
    """TEST top-1 over the non-idle classes, from scores_test.npz."""
    p = run_dir / "scores_test.npz"
    if not p.is_file():
        return None
    z = np.load(p, allow_pickle=False)
    classes = [str(c) for c in z["classes"]]
    keep = z["labels"] != classes.index("-") if "-" in classes else np.ones(len(z["labels"]), bool)
    return float((z["scores"][keep].argmax(1) == z["labels"][keep]).mean())


def fused_metrics(dirs: list[Path]) -> dict[str, float] | None:
    """Equal-weight softmax fusion of the streams' val and test scores (gspmc.inference.scores.fuse)."""
    from gspmc.inference.scores import fuse
    from gspmc.train.evaluate import align_scores, load_scores

    out = {}
    for split in ("val", "test"):
        files = [d / f"scores_{split}.npz" for d in dirs]
        if not all(f.is_file() for f in files):
            return None
        scores, labels = align_scores([load_scores(f) for f in files], [str(f) for f in files])
        p = fuse(scores)
        out[f"{split}_top1"] = float((p.argmax(1) == labels).mean())
        if split == "val":
            out["val_loss"] = float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None)).mean())
        else:
            z = np.load(files[0], allow_pickle=False)
            classes = [str(c) for c in z["classes"]]
            if "-" in classes:
                keep = labels != classes.index("-")
                out["test_noidle"] = float((p[keep].argmax(1) == labels[keep]).mean())
    return out


def metrics(out: Path, row: str, fold: str, streams: list[str], seed: int) -> dict[str, float] | None:
    dirs = [out / row / fold / s / f"seed{seed}" for s in streams]
    if len(streams) > 1:
        return fused_metrics(dirs)
    res = read_result(dirs[0])
    if res is None:
        return None
    m = {"val_top1": res["val"]["top1"], "val_loss": res["val"].get("loss") or math.nan,
         "wall_time_s": res["wall_time_s"]}
    if res.get("test"):
        m["test_top1"] = res["test"]["top1"]
        m["test_noidle"] = no_idle_top1(dirs[0])
    return m


def compare(out: Path, baseline: str, row: str, streams: list[str], seeds: list[int]) -> dict:
    keys = ("val_top1", "val_loss", "test_top1", "test_noidle", "wall_time_s")
    res: dict = {"row": row, "baseline": baseline, "streams": "+".join(streams), "folds": {}, "pooled": {}}
    diffs: dict[str, dict[str, list[float]]] = {k: {} for k in keys}
    for fold in FOLDS:
        per = {"seeds": [], "row": {k: [] for k in keys}, "base": {k: [] for k in keys}}
        for seed in seeds:
            a, b = metrics(out, row, fold, streams, seed), metrics(out, baseline, fold, streams, seed)
            if a is None or b is None:
                continue
            per["seeds"].append(seed)
            for k in keys:
                if a.get(k) is not None and b.get(k) is not None:
                    per["row"][k].append(a[k])
                    per["base"][k].append(b[k])
                    scale = 1.0 if k in ("val_loss", "wall_time_s") else 100.0
                    diffs[k].setdefault(fold, []).append(scale * (a[k] - b[k]))
        res["folds"][fold] = {
            "seeds": per["seeds"],
            "row_mean": {k: float(np.mean(v)) for k, v in per["row"].items() if v},
            "base_mean": {k: float(np.mean(v)) for k, v in per["base"].items() if v},
            "row_sd": {k: float(np.std(v, ddof=1)) for k, v in per["row"].items() if len(v) > 1},
            "diff": {k: fold_ci(diffs[k].get(fold, [])) for k in keys if diffs[k].get(fold)},
        }
    res["pooled"] = {k: stratified(diffs[k]) for k in keys}
    vt, vl = res["pooled"]["val_top1"]["mean"], res["pooled"]["val_loss"]["mean"]
    res["decision"] = ("kept" if vt > 1e-9 else "dropped" if vt < -1e-9 else
                       ("kept (tie on val top-1, lower val loss)" if vl < 0 else "dropped (tie on val top-1)"))
    return res


def fmt(res: dict) -> str:
    lines = [f"### {res['row']} vs {res['baseline']} ({res['streams']})"]
    for fold, f in res["folds"].items():
        rm, bm, d = f["row_mean"], f["base_mean"], f["diff"]
        if not f["seeds"]:
            continue
        s = (f"  {fold} seeds {f['seeds']}: val {100*rm.get('val_top1', math.nan):.1f} vs {100*bm.get('val_top1', math.nan):.1f}"
             f" (paired {d['val_top1'][0]:+.1f} [{d['val_top1'][1]:+.1f}, {d['val_top1'][2]:+.1f}]),"
             f" val loss {rm.get('val_loss', math.nan):.3f} vs {bm.get('val_loss', math.nan):.3f}")
        if "test_top1" in d:
            s += (f"; TEST {100*rm['test_top1']:.1f} vs {100*bm['test_top1']:.1f} (paired {d['test_top1'][0]:+.1f}"
                  f" [{d['test_top1'][1]:+.1f}, {d['test_top1'][2]:+.1f}])")
        if "test_noidle" in d:
            s += f"; w/o idle {100*rm['test_noidle']:.1f} vs {100*bm['test_noidle']:.1f}"
        if "wall_time_s" in rm:
            s += f"; wall {rm['wall_time_s']:.0f} vs {bm['wall_time_s']:.0f} s (ratio {rm['wall_time_s']/bm['wall_time_s']:.2f})"
        lines.append(s)
    for k, p in res["pooled"].items():
        if p["n"]:
            lines.append(f"  pooled (fold-stratified, n={p['n']}, df={p['df']}) {k}: {p['mean']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}]")
    lines.append(f"  decision (validation rule): {res['decision']}")
    return "\n".join(lines)


def markdown_row(res: dict) -> str:
    """One row of a results.md table: per-fold paired val / TEST means, pooled with CIs, the decision."""
    def ci(p: dict, nd: int = 2) -> str:
        return f"{p['mean']:+.{nd}f} [{p['low']:+.{nd}f}, {p['high']:+.{nd}f}]" if p["n"] else "-"

    def fold(k: str) -> str:
        return " / ".join(f"{res['folds'][f]['diff'][k][0]:+.1f}" if k in res["folds"][f]["diff"] else "-"
                          for f in FOLDS)

    p = res["pooled"]
    n = min((len(f["seeds"]) for f in res["folds"].values()), default=0)
    return (f"| `{res['row']}` | {n} | {fold('val_top1')} | {ci(p['val_top1'])} | {ci(p['val_loss'], 3)} | "
            f"{fold('test_top1')} | {ci(p['test_top1'], 1)} | {res['decision']}"
            f"{'; val interval above 0' if p['val_top1']['n'] and p['val_top1']['low'] > 0 else ''} |")


MARKDOWN_HEADER = ("| row | seeds per fold | paired val TCN / dmo | pooled val | pooled val loss | paired TEST TCN / dmo | "
                   "pooled TEST | decision (rule) |\n|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--rows", nargs="+", required=True)
    ap.add_argument("--streams", nargs="+", default=["joint"])
    ap.add_argument("--fused", nargs="*", default=[], help="streams to fuse (equal weights) as one more comparison")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", action="store_true", help="also print the comparisons as one results.md table")
    args = ap.parse_args(argv)
    print("# pooled = fold-stratified (gspmc.train.paired.stratified_interval); per-fold CIs: one-sample t")
    allres = []
    for row in args.rows:
        for stream in args.streams:
            r = compare(args.out, args.baseline, row, [stream], args.seeds)
            allres.append(r)
            print(fmt(r))
        if args.fused:
            r = compare(args.out, args.baseline, row, list(args.fused), args.seeds)
            allres.append(r)
            print(fmt(r))
    if args.json:
        args.json.write_text(json.dumps(allres, indent=1))
    if args.markdown:
        print("\n" + MARKDOWN_HEADER)
        print("\n".join(markdown_row(r) for r in allres))
    return 0


if __name__ == "__main__":
    sys.exit(main())
