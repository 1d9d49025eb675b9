"""Paired comparisons: t and bootstrap intervals on hand-computed cases, and the grid's compare table."""

from __future__ import annotations

import math

import pytest

from gspmc.train import paired


def test_t_interval_hand_computed() -> None:
    # d = 1, 2, 3: mean 2, sd 1, se 1/sqrt(3); t_{0.975, 2} = 4.302653 -> half width 2.484138
    mean, sd, lo, hi = paired.t_interval([1.0, 2.0, 3.0])
    assert (mean, sd) == (pytest.approx(2.0), pytest.approx(1.0))
    assert lo == pytest.approx(2 - 2.484138, abs=1e-5) and hi == pytest.approx(2 + 2.484138, abs=1e-5)
    # five seeds: d = 2, 1, 3, 0, 4 -> mean 2, sd sqrt(2.5) = 1.581139; t_{0.975, 4} = 2.776445
    # half width 2.776445 * 1.581139 / sqrt(5) = 1.963243
    mean, sd, lo, hi = paired.t_interval([2.0, 1.0, 3.0, 0.0, 4.0])
    assert sd == pytest.approx(math.sqrt(2.5))
    assert (lo, hi) == (pytest.approx(0.036757, abs=1e-5), pytest.approx(3.963243, abs=1e-5))
    assert paired.t_quantile(0.975, 9) == pytest.approx(2.262157, abs=1e-6)
    m, s, lo, hi = paired.t_interval([0.7])
    assert m == 0.7 and all(math.isnan(v) for v in (s, lo, hi))


def test_paired_stats_pairs_by_seed_and_counts_wins() -> None:
    base = {"seed0": 0.90, "seed1": 0.80, "seed2": 0.85, "seed3": 0.70}
    row = {"seed0": 0.92, "seed1": 0.80, "seed2": 0.84, "seed4": 0.99}  # seed3/seed4 unpaired: left out
    st = paired.paired_stats(row, base, scale=100.0)
    assert st.n == 3 and st.seeds == ("seed0", "seed1", "seed2")
    assert st.diffs == pytest.approx((2.0, 0.0, -1.0))
    assert (st.wins, st.losses, st.ties) == (1, 1, 1)
    assert st.mean == pytest.approx(1 / 3)
    assert not st.excludes_zero


def test_a_consistent_gain_excludes_zero_and_the_p_value_matches() -> None:
    base = {f"seed{i}": 0.80 + 0.03 * (i % 3) for i in range(6)}  # seed noise of several points
    gain = [1.8, 2.1, 2.0, 2.3, 1.9, 2.2]
    row = {k: v + g / 100 for (k, v), g in zip(base.items(), gain, strict=True)}
    st = paired.paired_stats(row, base, scale=100.0)
    assert st.mean == pytest.approx(2.05)
    assert st.excludes_zero and st.wins == 6
    assert 1.8 < st.ci_low < st.mean < st.ci_high < 2.3
    assert math.isnan(st.boot_low) and math.isnan(st.boot_high)  # 6 pairs: too few for a bootstrap
    # t = mean / (sd / sqrt(n)); sd = 0.187083 -> t = 26.84, two-sided p with 5 df ~ 1.3e-6
    assert st.p_value < 1e-5
    assert paired.paired_stats(row, base, scale=100.0) == st  # the bootstrap is seeded


def test_compare_lines_per_fold_and_pooled() -> None:
    lines = [
        {"row": "ce", "fold": "A", "stream": "joint", "per_seed": {"seed0": 0.5, "seed1": 0.6}},
        {"row": "ce", "fold": "B", "stream": "joint", "per_seed": {"seed0": 0.7, "seed1": 0.8}},
        {"row": "all", "fold": "A", "stream": "joint", "per_seed": {"seed0": 0.52, "seed1": 0.61}},
        {"row": "all", "fold": "B", "stream": "joint", "per_seed": {"seed0": 0.69, "seed1": 0.84}},
    ]
    cmp = paired.compare_lines(lines, "ce", ["all"])
    by = {(c["fold"], c["stream"]): c for c in cmp}
    assert by[("A", "joint")]["diffs"] == pytest.approx([2.0, 1.0])
    assert by[("B", "joint")]["diffs"] == pytest.approx([-1.0, 4.0])
    pooled = by[(paired.POOLED, "joint")]
    assert pooled["n"] == 4 and pooled["mean"] == pytest.approx(1.5)
    # within-fold variance (0.5 + 12.5) / (4 - 2) = 6.5; se = sqrt(6.5 * (1/2 + 1/2)) / 2 = 1.274755;
    # t_{0.975, 2} = 4.302653 -> half width 5.484829 (the fold means, 1.5 and 1.5, do not widen it)
    assert pooled["sd"] == pytest.approx(math.sqrt(6.5))
    assert (pooled["ci_low"], pooled["ci_high"]) == (pytest.approx(1.5 - 5.484829, abs=1e-5),
                                                      pytest.approx(1.5 + 5.484829, abs=1e-5))
    md = paired.format_compare_markdown(cmp)
    assert "### all vs ce" in md and "| A | joint | 2 | +1.5" in md
    assert paired.format_compare_csv(cmp).splitlines()[0].startswith("row,baseline,fold,stream,n,mean")


def test_stratified_pooling_weights_folds_not_pairs_and_keeps_fold_effects_out_of_the_noise() -> None:
    # fold A helps by ~11 points (2 seeds), fold B costs ~2 (4 seeds): the folds are blocks
    groups = {"A": [10.0, 12.0], "B": [-2.0, -1.0, -3.0, -2.0]}
    mean, sw, lo, hi, df = paired.stratified_interval(groups)
    assert mean == pytest.approx((11.0 + -2.0) / 2)  # the mean of the fold means, not of the 6 pairs (2.33)
    assert df == 4
    # within: A 1 + 1 = 2, B 0 + 1 + 1 + 0 = 2 -> s_w^2 = 4 / 4 = 1; se = sqrt(1/2 + 1/4) / 2 = 0.433013
    assert sw == pytest.approx(1.0)
    half = paired.t_quantile(0.975, 4) * math.sqrt(0.75) / 2
    assert (lo, hi) == (pytest.approx(4.5 - half), pytest.approx(4.5 + half))
    # the exchangeable one-sample interval over all 6 pairs puts the fold effect into the noise: far wider
    _, _, xlo, xhi = paired.t_interval([d for g in groups.values() for d in g])
    assert xhi - xlo > 5 * (hi - lo)
    # one pair per fold: no within-fold variance, no interval
    assert math.isnan(paired.stratified_interval({"A": [1.0], "B": [2.0]})[2])


def test_bootstrap_only_from_twenty_pairs() -> None:
    d19 = [float(i % 5) for i in range(19)]
    assert all(math.isnan(v) for v in paired.bootstrap_interval(d19))
    lo, hi = paired.bootstrap_interval([*d19, 2.0])
    assert lo < 2.0 < hi
