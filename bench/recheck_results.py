"""Recheck of the pooled claims of docs/results.md sections 1-5 with fold-stratified statistics (issue 19.2).

The pooled paired intervals of sections 4 and 5 were one-sample Student-t intervals over all (fold, seed)
pairs, as if the pairs of both folds were exchangeable. ``gspmc.train.paired`` now pools by folds: the mean
of the fold means, the pooled *within-fold* variance, df = pairs - folds (``stratified_interval``,
``pooled_stats``; module docstring there), and no bootstrap interval on fewer than ``MIN_BOOTSTRAP`` pairs.
The run folders of those sections are gone (``runs/`` is not committed and did not survive the machines),
so everything here is recomputed from the figures the doc prints:

- **per seed** (section 4.1 prints the per-seed TEST differences): exact, through ``pooled_stats``;
- **per fold** (mean [95% t CI] over n seeds of each fold): a fold's n paired differences are replaced by
  n synthetic values with the same mean and the same sample sd (``sd = half-width * sqrt(n) / t``). The
  stratified interval and the old one-sample interval depend on the pairs only through the fold means,
  the within-fold sums of squares and the n's, so both come out as from the real pairs, up to the doc's
  rounding to 0.1 (about +-0.1 on each end). With equal seeds per fold the stratified mean is the plain
  mean, so the new interval is the recomputed half-width around the printed (unrounded-data) mean;
- **pooled only** (no per-fold interval printed): not recomputable. With equal seeds per fold the
  stratified mean equals the printed mean, and its half-width is at most
  ``t_{N-F} / t_{N-1} * sqrt((N - 1) / (N - F))`` times the old one (all the variance within folds);
  it can be much narrower (variance between folds). Printed as the widest possible interval.

Every old figure is recomputed first from the same inputs (column ``old, recomputed``) to check the
transcription against the printed one. Run: ``.venv/bin/python bench/recheck_results.py``.
"""

from __future__ import annotations

import math

import numpy as np

from gspmc.train.paired import MIN_BOOTSTRAP, pooled_stats, stratified_interval, t_interval, t_quantile

TCN, DMO = "TheCamNelson", "dmohazab"
LABEL = {TCN: "TCN", DMO: "dmohazab"}
ROUNDING = 0.1  # the doc prints one decimal: a worst-case interval must clear 0 by this to count

# ------------------------------------------------------------------------------------------------------
# per seed: docs/results.md section 4.1, "Paired differences in TEST top-1", column "per seed (0-4)"
# (row minus CE, points). all-claude is also the `.claude` row of 4.3 and the `all` row of 4.4.
PER_SEED: dict[str, dict[str, list[float]]] = {
    "4.1/4.5 gspmc-pick TEST": {TCN: [+0.8, +7.3, +1.2, -5.1, +4.7], DMO: [-5.5, -3.3, +1.5, -4.6, +1.6]},
    "4.1/4.3/4.4/4.5 all-claude TEST": {TCN: [-2.4, +5.9, +1.5, -1.8, +5.9],
                                        DMO: [-3.3, -4.8, -0.1, -0.4, +2.4]},
}
# the pooled figures printed for them (mean, low, high); bootstrap intervals printed on 10 pairs
OLD_PER_SEED = {"4.1/4.5 gspmc-pick TEST": ((-0.1, -3.2, +3.0), (-2.6, +2.5), 0.92),
                "4.1/4.3/4.4/4.5 all-claude TEST": ((+0.3, -2.3, +2.9), (-1.8, +2.5), 0.80)}

# ------------------------------------------------------------------------------------------------------
# per fold: {fold: (n, mean, low, high)} as printed, and the pooled (mean, low, high) printed beside
PER_FOLD: dict[str, tuple[dict[str, tuple[int, float, float, float]], tuple[float, float, float]]] = {
    # section 4.3, table "description source", columns "paired diff vs CE, TCN | dmohazab | both folds"
    "4.3 kb (.kb) TEST": ({TCN: (5, +1.2, -7.7, +10.0), DMO: (5, -1.4, -4.4, +1.7)}, (-0.1, -3.8, +3.6)),
    "4.3 claude-nokb TEST": ({TCN: (5, +1.5, -7.0, +10.0), DMO: (5, -0.4, -2.9, +2.1)}, (+0.6, -2.9, +4.0)),
    "4.3 claude-v1 TEST": ({TCN: (5, +0.8, -2.7, +4.3), DMO: (5, -1.6, -5.0, +1.7)}, (-0.4, -2.5, +1.7)),
    # section 4.4, table "row (paper's Table 5)", same columns
    "4.4 + synonym TEST": ({TCN: (5, +2.6, -4.5, +9.6), DMO: (5, -1.1, -3.3, +1.0)}, (+0.7, -2.4, +3.9)),
    "4.4 + description TEST": ({TCN: (5, -0.0, -6.1, +6.1), DMO: (5, -0.7, -4.4, +3.0)}, (-0.4, -3.1, +2.4)),
    "4.4 + multipart TEST": ({TCN: (5, -0.5, -2.4, +1.4), DMO: (5, -1.2, -4.8, +2.4)}, (-0.9, -2.4, +0.7)),
    # section 5.1, per-fold table columns "paired TEST" / "paired val"; pooled: the "Pooled over both
    # folds (6 pairs)" table
    "5.1 hand-frame val (decision)": ({TCN: (3, +1.8, +0.1, +3.6), DMO: (3, +8.1, +2.5, +13.7)},
                                      (+4.9, +1.0, +8.9)),
    "5.1 hand-frame TEST": ({TCN: (3, -2.1, -7.2, +3.1), DMO: (3, +11.2, +4.2, +18.2)}, (+4.6, -3.4, +12.5)),
    "5.1 hand-gap val (decision)": ({TCN: (3, -0.2, -2.0, +1.5), DMO: (3, +1.1, -5.4, +7.5)},
                                    (+0.4, -1.5, +2.4)),
    "5.1 hand-gap TEST": ({TCN: (3, -1.9, -11.8, +7.9), DMO: (3, +6.1, +0.1, +12.1)}, (+2.1, -3.5, +7.6)),
    "5.1 speed val (decision)": ({TCN: (3, -1.7, -6.1, +2.7), DMO: (3, +3.0, -0.4, +6.5)}, (+0.7, -2.5, +3.8)),
    "5.1 speed TEST": ({TCN: (3, -0.5, -12.5, +11.5), DMO: (3, +3.5, -3.2, +10.2)}, (+1.5, -2.9, +5.8)),
    "5.1 missing-last val (decision)": ({TCN: (3, -2.2, -6.0, +1.7), DMO: (3, +0.5, -1.5, +2.4)},
                                        (-0.9, -2.8, +1.0)),
    "5.1 missing-last TEST": ({TCN: (3, +0.9, -4.2, +5.9), DMO: (3, +5.1, -1.4, +11.5)}, (+3.0, -0.3, +6.2)),
    # section 5.2, "Paired, joint + bone fused: TheCamNelson ..., dmohazab ..., both folds ..."
    "5.2 hand frame, joint+bone fused TEST": ({TCN: (3, -2.1, -3.9, -0.3), DMO: (3, +1.5, -1.0, +4.1)},
                                              (-0.3, -2.5, +2.0)),
}

# ------------------------------------------------------------------------------------------------------
# pooled only: (section claim, N pairs, F folds, printed mean, low, high, per-fold means if derivable)
# Per-fold means: section 5.1 "TEST w/o idle" columns (row mean minus `ce` mean per fold; a paired mean
# is the difference of the means); 4.3 between sources: differences of the per-fold means against CE.
POOLED_ONLY: list[tuple[str, int, int, float, float, float, tuple[float, float] | None]] = [
    ("4.1 gspmc-pick val", 10, 2, +0.3, -2.2, +2.7, None),
    ("4.1/4.3/4.4 all-claude val", 10, 2, -0.4, -2.8, +1.9, None),
    ("4.3 kb val", 10, 2, -1.5, -4.7, +1.7, None),
    ("4.3 claude-nokb val", 10, 2, -0.1, -2.9, +2.8, None),
    ("4.3 claude-v1 val", 10, 2, -0.5, -2.7, +1.6, None),
    ("4.3 claude-v1 - claude-nokb TEST", 10, 2, -1.0, -3.5, +1.5, (0.8 - 1.5, -1.6 + 0.4)),
    ("4.3 claude - claude-v1 TEST", 10, 2, +0.7, -0.6, +2.0, (1.8 - 0.8, -1.2 + 1.6)),
    ("4.3 claude - claude-nokb TEST", 10, 2, -0.2, -2.1, +1.6, (1.8 - 1.5, -1.2 + 0.4)),
    ("4.4 + synonym val", 10, 2, +1.4, -0.3, +3.1, None),
    ("4.4 + description val", 10, 2, +1.2, +0.1, +2.2, None),
    ("4.4 + multipart val", 10, 2, +1.4, -0.4, +3.2, None),
    ("4.5 mean of five GSP-MC rows TEST", 10, 2, +0.0, -2.7, +2.8, None),
    ("5.1 hand-frame TEST w/o idle", 6, 2, +5.7, -3.7, +15.2, (90.1 - 92.2, 83.9 - 70.3)),
    ("5.1 hand-gap TEST w/o idle", 6, 2, +1.6, -3.5, +6.7, (90.2 - 92.2, 75.5 - 70.3)),
    ("5.1 speed TEST w/o idle", 6, 2, +1.9, -3.0, +6.8, (91.7 - 92.2, 74.6 - 70.3)),
    ("5.1 missing-last TEST w/o idle", 6, 2, +2.5, -0.2, +5.1, (93.2 - 92.2, 74.2 - 70.3)),
    ("5.1 recipe val (vs ce)", 6, 2, +4.8, +0.7, +8.9, None),
    ("5.1 recipe val vs hand-frame (decision)", 6, 2, -0.2, -1.1, +0.8, None),
    ("5.1 recipe TEST (vs ce)", 6, 2, +0.8, -12.6, +14.1, None),
    ("5.1 recipe TEST vs hand-frame", 6, 2, -3.8, -11.0, +3.4, None),
]

# section 5.2 validation of the fused systems: "(validation -0.2 [-0.7, +0.2]: saturated at 100% on the
# dmohazab fold)". The 5.2 table gives val 100.0 / 100.0 (before / now) on the dmohazab fold, i.e. every
# seed at 100% (one of 219 clips wrong would show as 99.8-99.9), so that fold's differences are 0, 0, 0;
# the TheCamNelson fold's mean is 98.4 - 98.9 = -0.5, and its sd follows from the printed pooled interval.
FUSED_VAL = {"old": (-0.2, -0.7, +0.2), "tcn_mean": 98.4 - 98.9, "n": 3}

# section 4.2 and 4.5 figures that cannot be recomputed at all (printed as a list at the end)
NOT_RECHECKABLE = [
    "4.2 knob rows (tau, alpha, encoder, part map, shared texts): mean val differences over 4 (fold, seed) "
    "runs only, run folders lost; 2 seeds per fold, so the stratified mean equals the printed mean. Rerun: "
    "gspmc grid --config traduttore --set input.hand_frame=false --rows src/gspmc/configs/rows/gsp.yaml "
    "--folds TheCamNelson dmohazab --seeds 0 1 --streams joint --jobs 2 --threads 1 --out runs/grid "
    "--only all-claude val-tau0.07 val-tau0.2 val-alpha0.25 val-alpha1 val-use val-e5 val-nobody "
    "val-keepshared --compare all-claude val-tau0.07 val-tau0.2 val-alpha0.25 val-alpha1 val-use val-e5 "
    "val-nobody val-keepshared --compare-split val",
    "4.2 store choice (claude-v1 -0.1, claude-nokb +0.4, kb -1.1, local +0.9 on val, 10 pairs): means only; "
    "5 seeds per fold, so the stratified means are the printed ones",
    "4.4 '+ description' val p = 0.04: needs the per-fold val differences",
    "sections 4.1, 4.3, 4.4 validation intervals, the between-source TEST intervals of 4.3 and the five-row "
    "mean of 4.5 (per-fold val differences and per-seed figures of the other rows never printed, runs "
    "lost). Rerun (100 runs, about 3 h at two at a time; a new measurement, not a replay: the training code "
    "and the machine changed since, section 5): gspmc grid --config traduttore --set input.hand_frame=false "
    "--rows src/gspmc/configs/rows/gsp.yaml --folds TheCamNelson dmohazab --seeds 0 1 2 3 4 --streams joint "
    "--jobs 2 --threads 1 --out runs/grid --only ce gspmc-pick all-claude all-claude-v1 all-claude-nokb "
    "all-kb synonym-claude description-claude multipart-claude --compare ce gspmc-pick all-claude "
    "all-claude-v1 all-claude-nokb all-kb synonym-claude description-claude multipart-claude "
    "--compare-split val (and --compare all-claude-nokb all-claude-v1 all-claude for the source pairs)",
    "section 5.1 TEST w/o idle intervals (per-fold paired sd never printed) and every `recipe` interval "
    "(no per-fold recipe line). Rerun (36 runs): gspmc grid --config traduttore --set "
    "input.hand_frame=false --rows src/gspmc/configs/rows/signer.yaml --only ce hand-frame hand-gap "
    "missing-last speed recipe --folds TheCamNelson dmohazab --seeds 0 1 2 --streams joint --jobs 2 "
    "--threads 1 --out runs/si/grid --compare ce hand-frame hand-gap missing-last speed recipe "
    "--compare-split val (then --compare hand-frame recipe); TEST w/o idle from the per-class reports",
]


def synth(n: int, mean: float, sd: float) -> list[float]:
    """n values with exactly this sample mean and sample sd (ddof 1)."""
    k = np.arange(n, dtype=np.float64)
    z = (k - k.mean()) / k.std(ddof=1)
    return list(mean + sd * z)


def sd_from_ci(n: int, low: float, high: float) -> float:
    return (high - low) / 2 * math.sqrt(n) / t_quantile(0.975, n - 1)


def groups_from_folds(folds: dict[str, tuple[int, float, float, float]]) -> dict[str, list[float]]:
    return {f: synth(n, m, sd_from_ci(n, lo, hi)) for f, (n, m, lo, hi) in folds.items()}


def fmt(m: float, lo: float, hi: float) -> str:
    if lo != lo:
        return f"{m:+.1f}"
    return f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}]" + (" *" if lo > 0 or hi < 0 else "")


def one_sample(groups: dict[str, list[float]]) -> tuple[float, float, float]:
    m, _, lo, hi = t_interval([d for g in groups.values() for d in g])
    return m, lo, hi


def per_fold_text(groups: dict[str, list[float]]) -> str:
    out = []
    for f, g in groups.items():
        m, _, lo, hi = t_interval(g)
        out.append(f"{LABEL.get(f, f)} {fmt(m, lo, hi)}")
    return "; ".join(out)


def row(name: str, old: str, recomputed: str, new: str, folds: str, note: str = "") -> None:
    print(f"| {name} | {old} | {recomputed} | {new} | {folds} | {note} |")


def main() -> None:
    print("Old = one-sample t over all (fold, seed) pairs as printed in docs/results.md; new = fold-stratified "
          f"(gspmc.train.paired.stratified_interval). Bootstrap intervals need >= {MIN_BOOTSTRAP} pairs. "
          "'*': the interval excludes 0. Points.\n")
    print("| claim | old (printed) | old, recomputed | new (fold-stratified) | per fold | note |")
    print("|---|---|---|---|---|---|")
    for name, groups in PER_SEED.items():
        (om, olo, ohi), (blo, bhi), op = OLD_PER_SEED[name]
        st = pooled_stats({f: {str(i): d for i, d in enumerate(g)} for f, g in groups.items()},
                          {f: {str(i): 0.0 for i in range(len(g))} for f, g in groups.items()})
        boot = "none" if st.boot_low != st.boot_low else f"[{st.boot_low:+.1f}, {st.boot_high:+.1f}]"
        row(name, f"{fmt(om, olo, ohi)} p {op:.2f}, bootstrap [{blo:+.1f}, {bhi:+.1f}]",
            fmt(*one_sample(groups)), f"{fmt(st.mean, st.ci_low, st.ci_high)} p {st.p_value:.2f}",
            per_fold_text(groups),
            f"per seed; s_w {st.sd:.1f} (one-sample sd {np.std(st.diffs, ddof=1):.1f}); bootstrap: {boot}; "
            f"W/L {st.wins}/{st.losses}")
    for name, (folds, old) in PER_FOLD.items():
        groups = groups_from_folds(folds)
        m, sw, lo, hi, df = stratified_interval(groups)
        sd_all = float(np.std([d for g in groups.values() for d in g], ddof=1))
        half = (hi - lo) / 2  # centred on the printed mean: equal seeds per fold, so it is the stratified one
        row(name, fmt(*old), fmt(*one_sample(groups)), fmt(old[0], old[0] - half, old[0] + half),
            per_fold_text(groups), f"from per-fold CIs; mean of fold means {m:+.2f}; df {df}; "
            f"s_w {sw:.1f} (one-sample sd {sd_all:.1f})")
    # 5.2 fused validation, derived (see FUSED_VAL)
    om, olo, ohi = FUSED_VAL["old"]
    n = FUSED_VAL["n"]
    mt = FUSED_VAL["tcn_mean"]
    ss_tot = ((ohi - olo) / 2 * math.sqrt(2 * n) / t_quantile(0.975, 2 * n - 1)) ** 2 * (2 * n - 1)
    ss_tcn = ss_tot - n * (mt / 2) ** 2 * 2  # minus the between-fold part
    groups = {TCN: synth(n, mt, math.sqrt(max(ss_tcn, 0.0) / (n - 1))), DMO: [0.0] * n}
    m, sw, lo, hi, df = stratified_interval(groups)
    row("5.2 hand frame, joint+bone fused val", fmt(om, olo, ohi), fmt(*one_sample(groups)), fmt(m, lo, hi),
        per_fold_text(groups), "derived: dmohazab fold 0, 0, 0 (val 100%), TCN sd from the pooled CI")
    print()
    print("Pooled-only claims (no per-fold interval in the doc): the stratified mean is the mean of the fold "
          "means (equal seeds per fold: the printed mean); the widest possible stratified interval is shown, "
          "the real one can be much narrower.\n")
    print("| claim | old (printed) | fold means | widest stratified | still excludes 0 at worst? |")
    print("|---|---|---|---|---|")
    for name, big_n, f, m, lo, hi, fm in POOLED_ONLY:
        k = big_n // f
        ratio = t_quantile(0.975, big_n - f) / t_quantile(0.975, big_n - 1) * math.sqrt((big_n - 1) / (big_n - f))
        mean = sum(fm) / len(fm) if fm else m
        half = (hi - lo) / 2 * ratio
        folds = ", ".join(f"{x:+.1f}" for x in fm) + f" (mean {mean:+.2f})" if fm else "not in the doc"
        clears = mean - half > ROUNDING or mean + half < -ROUNDING
        excl = "" if not (lo > 0 or hi < 0) else ("yes" if clears else "undetermined at the doc's rounding")
        print(f"| {name} | {fmt(m, lo, hi)} | {folds} | {fmt(mean, mean - half, mean + half)} (x{ratio:.2f}, "
              f"{k} per fold) | {excl} |")
    print()
    print("Not recheckable (figures lost or never printed):")
    for line in NOT_RECHECKABLE:
        print(f"- {line}")


if __name__ == "__main__":
    main()
