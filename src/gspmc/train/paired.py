"""Paired comparisons of grid rows: per-seed differences, their mean and a 95% confidence interval.

Two rows of a grid run with the same seed share the initial weights and the data order (the
GSP-MC heads are built from a forked RNG, :class:`gspmc.train.module.RecognitionModule`), so their
test accuracies are *paired*: the per-seed difference d_s = acc(row, s) - acc(baseline, s)
removes the seed's own luck, which is 1-5 points on traduttore. For n seeds:

    mean  d_bar = (1/n) sum_s d_s
    sd    s_d   = sqrt( sum_s (d_s - d_bar)^2 / (n - 1) )
    95% CI (Student t):  d_bar -/+ t_{0.975, n-1} * s_d / sqrt(n)

and, as a distribution-free check where there are enough pairs (>= 20: a percentile bootstrap on
fewer under-covers), a percentile bootstrap CI over resampled seeds (seeded, so the table is
reproducible). Wins / losses / ties count the seeds where the row beats, loses to or equals the
baseline. A CI that excludes 0 is a measured effect; a CI inside (-X, X) says the effect, if any, is
smaller than X points.

Pooling folds. The held-out fold (signer, session) is a block: the same change can help one fold by
11 points and cost another 2, so the (fold, seed) pairs are not exchangeable and a one-sample interval
over all of them is wrong. The pooled estimate is **fold-stratified**: with F folds, n_f pairs in fold f
and N = sum_f n_f,

    estimate   m = (1/F) sum_f d_bar_f                                  (mean of the fold means)
    within     s_w^2 = sum_f sum_s (d_fs - d_bar_f)^2 / (N - F)        (pooled within-fold variance)
    SE         se = sqrt( s_w^2 sum_f (1 / n_f) ) / F
    95% CI     m -/+ t_{0.975, N - F} * se

It answers "the mean effect over these folds"; folds themselves are not sampled, so it says nothing
about a new fold beyond these. Per-fold estimates are always reported beside it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

TIE_TOL = 1e-12
MIN_BOOTSTRAP = 20  # pairs below which no bootstrap interval is given (a percentile bootstrap under-covers)
POOLED = "pooled (fold-stratified)"  # the fold label of pooled lines


@dataclass(frozen=True)
class PairedStats:
    """Summary of paired differences (row minus baseline), in the units given (fractions or points)."""

    n: int
    mean: float
    sd: float
    ci_low: float  # Student-t 95% CI
    ci_high: float
    boot_low: float  # percentile bootstrap 95% CI
    boot_high: float
    wins: int
    losses: int
    ties: int
    p_value: float  # two-sided paired t-test (nan for n < 2 or sd = 0)
    diffs: tuple[float, ...] = field(default=())
    seeds: tuple[str, ...] = field(default=())

    @property
    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.ci_low > 0 or self.ci_high < 0)


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (scipy.stats.t.ppf)."""
    from scipy import stats

    return float(stats.t.ppf(p, df))


def t_interval(diffs: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): mean -/+ t_{(1+level)/2, n-1} * sd / sqrt(n); sd with ddof 1.

    One value: the interval is (nan, nan); none: everything nan."""
    d = np.asarray(diffs, dtype=np.float64)
    n = d.size
    if n == 0:
        return (math.nan,) * 4
    mean = float(d.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    sd = float(d.std(ddof=1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def bootstrap_interval(diffs: Sequence[float], level: float = 0.95, resamples: int = 10_000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean: resample the n differences with replacement (nan for fewer
    than :data:`MIN_BOOTSTRAP` differences: on 3-10 pairs it under-covers)."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < MIN_BOOTSTRAP:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)  # (resamples,)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_t_pvalue(diffs: Sequence[float]) -> float:
    """Two-sided p-value of the paired t-test (H0: mean difference 0)."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < 2:
        return math.nan
    sd = d.std(ddof=1)
    if sd == 0:
        return math.nan
    from scipy import stats

    t = d.mean() / (sd / math.sqrt(d.size))
    return float(2 * stats.t.sf(abs(t), d.size - 1))


def paired_stats(row: Mapping[str, float], baseline: Mapping[str, float], level: float = 0.95,
                 scale: float = 1.0, seed: int = 0) -> PairedStats:
    """Compare two {seed: accuracy} maps on the seeds both have; differences are ``scale * (row - base)``
    (``scale=100``: percentage points)."""
    seeds = sorted(set(row) & set(baseline), key=_seed_order)
    diffs = [scale * (float(row[s]) - float(baseline[s])) for s in seeds]
    mean, sd, lo, hi = t_interval(diffs, level)
    blo, bhi = bootstrap_interval(diffs, level, seed=seed)
    wins = sum(d > TIE_TOL for d in diffs)
    losses = sum(d < -TIE_TOL for d in diffs)
    return PairedStats(n=len(diffs), mean=mean, sd=sd, ci_low=lo, ci_high=hi, boot_low=blo, boot_high=bhi,
                       wins=wins, losses=losses, ties=len(diffs) - wins - losses,
                       p_value=paired_t_pvalue(diffs), diffs=tuple(diffs), seeds=tuple(seeds))


def stratified_interval(groups: Mapping[str, Sequence[float]], level: float = 0.95
                        ) -> tuple[float, float, float, float, int]:
    """Fold-stratified pooled estimate (module docstring): (mean of fold means, pooled within-fold sd,
    low, high, df = N - F). Intervals are nan when df < 1 (e.g. one pair per fold)."""
    folds = [np.asarray(v, np.float64) for v in groups.values() if len(v)]
    if not folds:
        return (math.nan,) * 4 + (0,)
    f, n = len(folds), sum(d.size for d in folds)
    mean = float(np.mean([d.mean() for d in folds]))
    df = n - f
    if df < 1:
        return mean, math.nan, math.nan, math.nan, df
    sw = math.sqrt(sum(float(((d - d.mean()) ** 2).sum()) for d in folds) / df)
    se = sw * math.sqrt(sum(1.0 / d.size for d in folds)) / f
    half = t_quantile(0.5 + level / 2, df) * se
    return mean, sw, mean - half, mean + half, df


def pooled_stats(rows: Mapping[str, Mapping[str, float]], baselines: Mapping[str, Mapping[str, float]],
                 level: float = 0.95, scale: float = 1.0, seed: int = 0) -> PairedStats:
    """Fold-stratified paired comparison: ``rows`` and ``baselines`` map fold -> {seed: accuracy}."""
    groups: dict[str, list[float]] = {}
    keys: list[str] = []
    for fold, row in rows.items():
        base = baselines.get(fold, {})
        seeds = sorted(set(row) & set(base), key=_seed_order)
        groups[fold] = [scale * (float(row[s]) - float(base[s])) for s in seeds]
        keys += [f"{fold}/{s}" for s in seeds]
    diffs = [d for g in groups.values() for d in g]
    mean, sw, lo, hi, df = stratified_interval(groups, level)
    blo, bhi = bootstrap_interval(diffs, level, seed=seed)
    wins = sum(d > TIE_TOL for d in diffs)
    losses = sum(d < -TIE_TOL for d in diffs)
    p = math.nan
    if df >= 1 and sw > 0:
        from scipy import stats

        se = (hi - lo) / 2 / t_quantile(0.5 + level / 2, df)
        p = float(2 * stats.t.sf(abs(mean / se), df))
    return PairedStats(n=len(diffs), mean=mean, sd=sw, ci_low=lo, ci_high=hi, boot_low=blo, boot_high=bhi,
                       wins=wins, losses=losses, ties=len(diffs) - wins - losses, p_value=p,
                       diffs=tuple(diffs), seeds=tuple(keys))


def _seed_order(key: str) -> tuple[int, str]:
    digits = "".join(c for c in key if c.isdigit())
    return (int(digits) if digits else 0, key)


# ----------------------------------------------------------------------------------------------
# grid tables


def compare_lines(lines: Sequence[Mapping[str, Any]], baseline: str, rows: Sequence[str],
                  level: float = 0.95) -> list[dict[str, Any]]:
    """Paired comparisons of ``rows`` against ``baseline`` on the grid's aggregate lines.

    ``lines`` are :func:`gspmc.train.grid.aggregate` lines (each with ``row``, ``fold``, ``stream``
    and ``per_seed`` {"seed<k>": test top-1}). One output line per (row, fold, stream) that both
    have, plus a line per (row, stream) with the fold-stratified pooled estimate over every fold
    (``fold = POOLED``, see the module docstring). Differences are in percentage points.
    """
    base = {(ln["fold"], ln["stream"]): ln["per_seed"] for ln in lines if ln["row"] == baseline}
    out: list[dict[str, Any]] = []
    for row in rows:
        pooled: dict[str, tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]] = {}
        for ln in lines:
            if ln["row"] != row or (ln["fold"], ln["stream"]) not in base:
                continue
            b = base[(ln["fold"], ln["stream"])]
            st = paired_stats(ln["per_seed"], b, level, scale=100.0)
            out.append({"row": row, "baseline": baseline, "fold": ln["fold"], "stream": ln["stream"], **_flat(st)})
            pr, pb = pooled.setdefault(ln["stream"], ({}, {}))
            pr[str(ln["fold"])], pb[str(ln["fold"])] = ln["per_seed"], b
        for stream, (pr, pb) in pooled.items():
            if len(pr) > 1:
                st = pooled_stats(pr, pb, level, scale=100.0)
                out.append({"row": row, "baseline": baseline, "fold": POOLED, "stream": stream, **_flat(st)})
    return out


def _flat(st: PairedStats) -> dict[str, Any]:
    d = asdict(st)
    d["diffs"] = list(st.diffs)
    d["seeds"] = list(st.seeds)
    d["excludes_zero"] = st.excludes_zero
    return d


def _num(x: float, nd: int = 1) -> str:
    return "" if x != x else f"{x:+.{nd}f}"


def _p(x: float) -> str:
    return "" if x != x else f"{x:.3f}"


def format_compare_markdown(cmp: Sequence[Mapping[str, Any]], level: float = 0.95, split: str = "test") -> str:
    """One table per compared row: fold x stream, mean paired difference [t CI], bootstrap CI, W/L/T."""
    buf = io.StringIO()
    pct = int(round(100 * level))
    buf.write(f"Paired differences in {split.upper()} top-1 (percentage points, row minus baseline, same seeds); "
              f"mean [{pct}% t CI], bootstrap CI (only with >= {MIN_BOOTSTRAP} pairs), wins/losses/ties over "
              f"seeds, paired t-test p. '{POOLED}': the mean of the fold means with the within-fold variance, "
              "df = pairs - folds (folds are blocks, not exchangeable pairs).\n\n")
    for row in dict.fromkeys(c["row"] for c in cmp):
        sel = [c for c in cmp if c["row"] == row]
        buf.write(f"### {row} vs {sel[0]['baseline']}\n\n")
        buf.write(f"| fold | stream | n | mean diff [{pct}% CI] | bootstrap CI | W/L/T | p | per seed |\n")
        buf.write("|---|---|---|---|---|---|---|---|\n")
        for c in sel:
            mark = " *" if c["excludes_zero"] else ""
            per = ", ".join(_num(d) for d in c["diffs"])
            buf.write(f"| {c['fold']} | {c['stream']} | {c['n']} | {_num(c['mean'])} "
                      f"[{_num(c['ci_low'])}, {_num(c['ci_high'])}]{mark} | "
                      f"[{_num(c['boot_low'])}, {_num(c['boot_high'])}] | {c['wins']}/{c['losses']}/{c['ties']} | "
                      f"{_p(c['p_value'])} | {per} |\n")
        buf.write("\n")
    buf.write("`*`: the confidence interval excludes 0.\n")
    return buf.getvalue()


def format_compare_csv(cmp: Sequence[Mapping[str, Any]]) -> str:
    cols = ["row", "baseline", "fold", "stream", "n", "mean", "sd", "ci_low", "ci_high", "boot_low", "boot_high",
            "wins", "losses", "ties", "p_value", "excludes_zero", "diffs"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for c in cmp:
        w.writerow([" ".join(f"{d:.4f}" for d in c["diffs"]) if k == "diffs" else
                    (f"{c[k]:.4f}" if isinstance(c[k], float) else c[k]) for k in cols])
    return buf.getvalue()
