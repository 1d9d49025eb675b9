"""The data-efficiency curve of docs/results.md section 6 (issue 20, point 4): TEST top-1 of CE and
GSP-MC at k training clips per class, and the paired GSP-MC - CE difference per k with the
fold-stratified 95% CI (gspmc.train.paired.stratified_interval), from finished grid runs.

    python bench/issue20_curve.py --out runs/lm/probe --png docs/figures/data_efficiency.png

Rows: k<k>-ce / k<k>-gspmc (configs/rows/landmark-k.yaml) and, for "all", --all-ce / --all-gspmc;
--suffix -adamw reads k<k>-ce-adamw / k<k>-gspmc-adamw (configs/rows/landmark-k-adamw.yaml: the default recipe).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from gspmc.train.fit import read_result
from gspmc.train.paired import stratified_interval

FOLDS = ("TheCamNelson", "dmohazab")


def point(out: Path, ce: str, gsp: str, seeds: list[int], key: str) -> dict:
    """Per fold: {seed: (ce, gsp)} of ``key`` ('test' or 'val' top-1), and the paired statistics."""
    per_fold: dict[str, list[float]] = {}
    acc: dict[str, list[tuple[float, float]]] = {}
    for fold in FOLDS:
        for seed in seeds:
            a = read_result(out / ce / fold / "joint" / f"seed{seed}")
            b = read_result(out / gsp / fold / "joint" / f"seed{seed}")
            if a is None or b is None or a.get(key) is None or b.get(key) is None:
                continue
            acc.setdefault(fold, []).append((100 * a[key]["top1"], 100 * b[key]["top1"]))
            per_fold.setdefault(fold, []).append(100 * (b[key]["top1"] - a[key]["top1"]))
    mean, _, lo, hi, df = stratified_interval(per_fold) if per_fold else (math.nan,) * 4 + (0,)
    return {"acc": acc, "diff": per_fold, "mean": mean, "low": lo, "high": hi, "df": df,
            "n": sum(len(v) for v in per_fold.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--ks", type=int, nargs="+", default=[3, 5, 10, 20])
    ap.add_argument("--all-ce", default="landmark-small")
    ap.add_argument("--all-gspmc", default="gspmc")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--png", type=Path)
    ap.add_argument("--suffix", default="", help="row-name suffix of the k rows, e.g. -adamw")
    args = ap.parse_args(argv)
    points = [(str(k), f"k{k}-ce{args.suffix}", f"k{k}-gspmc{args.suffix}") for k in args.ks] + [("all", args.all_ce, args.all_gspmc)]
    print("| k | split | fold | CE top-1 | GSP-MC top-1 | paired GSP-MC - CE (points) | pairs |")
    print("|---|---|---|---|---|---|---|")
    curve = []
    for label, ce, gsp in points:
        for key in ("val", "test"):
            p = point(args.out, ce, gsp, args.seeds, key)
            if not p["n"]:
                continue
            for fold, pairs in p["acc"].items():
                a = np.array(pairs)
                d = p["diff"][fold]
                print(f"| {label} | {key} | {fold} | {a[:, 0].mean():.1f} | {a[:, 1].mean():.1f} | "
                      f"{np.mean(d):+.1f} ({', '.join(f'{x:+.1f}' for x in d)}) | {len(d)} |")
            ci = "" if math.isnan(p["low"]) else f" [{p['low']:+.1f}, {p['high']:+.1f}]"
            print(f"| {label} | {key} | pooled (fold-stratified) | | | {p['mean']:+.1f}{ci} | {p['n']} (df {p['df']}) |")
            if key == "test":
                curve.append((label, p))
    if args.png and curve:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        xs = np.arange(len(curve))
        for fold, marker in zip(FOLDS, ("o", "s"), strict=True):
            ce = [np.mean([c for c, _ in p["acc"].get(fold, [(np.nan, np.nan)])]) for _, p in curve]
            gs = [np.mean([g for _, g in p["acc"].get(fold, [(np.nan, np.nan)])]) for _, p in curve]
            ax1.plot(xs, ce, marker=marker, color="tab:gray", label=f"CE, {fold} held out")
            ax1.plot(xs, gs, marker=marker, color="tab:blue", label=f"GSP-MC, {fold} held out")
        ax1.set_xticks(xs, [lbl for lbl, _ in curve])
        ax1.set_xlabel("training clips per class (k)")
        ax1.set_ylabel("TEST top-1 (%)")
        ax1.legend(fontsize=7)
        means = np.array([p["mean"] for _, p in curve])
        lows = np.array([p["low"] for _, p in curve])
        highs = np.array([p["high"] for _, p in curve])
        has = ~np.isnan(lows)
        ax2.axhline(0, color="black", lw=0.8)
        ax2.plot(xs, means, "o", color="tab:blue")
        ax2.errorbar(xs[has], means[has], yerr=[means[has] - lows[has], highs[has] - means[has]], fmt="none",
                     color="tab:blue", capsize=3)
        ax2.set_xticks(xs, [lbl for lbl, _ in curve])
        ax2.set_xlabel("training clips per class (k)")
        ax2.set_ylabel("GSP-MC - CE, TEST top-1 (points)")
        ax2.set_title("paired, fold-stratified 95% CI where df >= 1", fontsize=8)
        fig.tight_layout()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
