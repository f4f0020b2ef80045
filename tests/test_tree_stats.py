"""``kpi_cli.influence.stats`` against scipy (the independent oracle), the research's tables and hand work.

The module is plain Python on purpose (no numpy or scipy at run time); here scipy.stats checks each
piece: ranks and Spearman with ties, Pearson, Student's t, the incomplete beta, the critical |ρ|,
the Mann–Whitney AUC and a DeLong variance written out by hand.
"""

from __future__ import annotations

import math
import random

import pytest
from scipy import special
from scipy import stats as sps

from kpi_cli.influence import stats

# --- ranks, Spearman, Pearson ----------------------------------------------------------------------


def _tied_sample(seed: int, n: int) -> tuple[list[float], list[float]]:
    """Two related samples drawn from few values, so both sides carry many ties."""
    rng = random.Random(seed)
    xs = [float(rng.randint(0, 5)) for _ in range(n)]
    ys = [float(round(x * 0.5 + rng.gauss(0, 1.2))) for x in xs]
    return xs, ys


@pytest.mark.parametrize(("seed", "n"), [(1, 5), (2, 10), (3, 17), (4, 24), (5, 60)])
def test_ranks_are_scipys_average_ranks(seed: int, n: int) -> None:
    xs, _ = _tied_sample(seed, n)
    assert stats.ranks(xs) == pytest.approx(list(sps.rankdata(xs, method="average")), abs=0)


@pytest.mark.parametrize(("seed", "n"), [(1, 5), (2, 10), (3, 17), (4, 24), (5, 60)])
def test_spearman_with_ties_matches_scipy(seed: int, n: int) -> None:
    xs, ys = _tied_sample(seed, n)
    assert len(set(xs)) < n  # the ties are real
    assert len(set(ys)) < n
    assert stats.spearman(xs, ys) == pytest.approx(sps.spearmanr(xs, ys).statistic, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("seed", "n"), [(6, 3), (7, 11), (8, 24), (9, 100)])
def test_pearson_matches_scipy(seed: int, n: int) -> None:
    rng = random.Random(seed)
    xs = [rng.gauss(0, 1) for _ in range(n)]
    ys = [x * rng.uniform(-1, 1) + rng.gauss(0, 1) for x in xs]
    assert stats.pearson(xs, ys) == pytest.approx(sps.pearsonr(xs, ys).statistic, rel=1e-12, abs=1e-15)


def test_spearman_by_hand_five_pairs() -> None:
    # No ties: x = 1..5, y = 2, 1, 4, 3, 5; rank differences d = −1, 1, −1, 1, 0, Σd² = 4;
    # ρ = 1 − 6·Σd² / (n(n² − 1)) = 1 − 24/120 = 0.8.
    assert stats.spearman([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.0]) == pytest.approx(0.8, rel=1e-15)
    # With ties on both sides: x = 10, 20, 20, 40, 50 → ranks 1, 2.5, 2.5, 4, 5;
    # y = 3, 1, 2, 2, 9 → ranks 4, 1, 2.5, 2.5, 5. Both mean 3, deviations
    # dx = −2, −½, −½, 1, 2 and dy = 1, −2, −½, −½, 2: Σdx·dy = −2 + 1 + ¼ − ½ + 4 = 2.75,
    # Σdx² = Σdy² = 4 + ¼ + ¼ + 1 + 4 = 9.5, so ρ = 2.75 / 9.5 = 11/38 (the d² shortcut does not hold with ties).
    xs, ys = [10.0, 20.0, 20.0, 40.0, 50.0], [3.0, 1.0, 2.0, 2.0, 9.0]
    assert stats.ranks(xs) == [1.0, 2.5, 2.5, 4.0, 5.0]
    assert stats.ranks(ys) == [4.0, 1.0, 2.5, 2.5, 5.0]
    assert stats.spearman(xs, ys) == pytest.approx(11 / 38, rel=1e-15)


def test_results_are_bit_identical_on_rerun_and_reordered_input() -> None:
    # fsum makes the sums exact-then-rounded, so a permutation of the pairs gives the same bits
    xs, ys = _tied_sample(21, 40)
    perm = list(range(40))
    random.Random(5).shuffle(perm)
    px, py = [xs[i] for i in perm], [ys[i] for i in perm]
    assert stats.spearman(xs, ys) == stats.spearman(px, py)
    assert stats.pearson(xs, ys) == stats.pearson(px, py)
    assert stats.auc(xs[:25], ys[25:]) == stats.auc(xs[:25], ys[25:])
    assert stats.auc(xs[:25], ys[25:]) == stats.auc(xs[:25][::-1], ys[25:][::-1])


def test_spearman_is_rank_based() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert stats.spearman(xs, [x**3 for x in xs]) == pytest.approx(1.0)  # monotone, not linear
    assert stats.spearman(xs, [-math.exp(x) for x in xs]) == pytest.approx(-1.0)
    assert (stats.pearson(xs, [x**3 for x in xs]) or 1.0) < 0.99  # Pearson sees the curvature


def test_correlation_edge_cases() -> None:
    assert stats.spearman([1.0, 2.0], [2.0, 1.0]) is None  # n < 3
    assert stats.pearson([1.0, 2.0], [2.0, 1.0]) is None
    assert stats.spearman([], []) is None
    assert stats.spearman([3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0]) is None  # a constant side
    assert stats.pearson([1.0, 2.0, 3.0, 4.0], [7.0, 7.0, 7.0, 7.0]) is None
    assert stats.pearson([1.0, 2.0, 3.0], [1.0, 2.0]) is None  # unequal lengths
    assert stats.pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)  # |ρ| = 1 stays within [−1, 1]
    assert abs(stats.pearson([0.1, 0.2, 0.3], [0.3, 0.2, 0.1]) or 0) <= 1.0


def test_spearman_test_skips_unknown_sides() -> None:
    xs = [1.0, None, 2.0, 3.0, 4.0, 5.0, None]
    ys = [2.0, 9.0, 1.0, 4.0, 3.0, None, 8.0]
    rho, n, ci = stats.spearman_test(xs, ys)
    assert n == 4  # the pairs where both sides are known
    assert rho == pytest.approx(sps.spearmanr([1, 2, 3, 4], [2, 1, 4, 3]).statistic)
    assert ci is not None
    assert ci == pytest.approx(stats.fisher_interval(rho or 0.0, 4))
    rho_p, _, _ = stats.spearman_test(xs, ys, method="pearson")
    assert rho_p == pytest.approx(sps.pearsonr([1, 2, 3, 4], [2, 1, 4, 3]).statistic)
    assert stats.spearman_test([1.0, None], [None, 2.0]) == (None, 0, None)


# --- Student's t, the incomplete beta, r_needed -----------------------------------------------------


@pytest.mark.parametrize("df", [3, 8, 20, 100])
@pytest.mark.parametrize("p", [0.975, 0.999])
def test_t_ppf_matches_scipy(df: int, p: float) -> None:
    assert stats.t_ppf(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-10)
    assert stats.t_ppf(1 - p, df) == pytest.approx(sps.t.ppf(1 - p, df), rel=1e-10)  # the lower tail


@pytest.mark.parametrize("p", [0.5 + 1e-10, 0.5000001, 0.51, 0.75, 0.975, 0.9999, 1 - 1e-9, 1 - 1e-13])
def test_t_ppf_to_1e_12_against_closed_forms(p: float) -> None:
    # df = 1 is Cauchy: F(t) = ½ + atan(t)/π, so t = tan(π(p − ½)) = cot(π(1 − p)) (p − ½ and 1 − p are
    # exact floats). df = 2: F(t) = ½ + t / (2√(2 + t²)), so with a = p − ½, t = 2a·√(2 / (1 − 4a²)).
    # Near p = ½ these are sharper than scipy's t.ppf, which drifts to ~1e-7 relative there.
    a, q = p - 0.5, 1 - p
    cauchy = math.tan(math.pi * a) if a < q else 1 / math.tan(math.pi * q)
    assert stats.t_ppf(p, 1) == pytest.approx(cauchy, rel=1e-12)
    assert stats.t_ppf(1 - p, 1) == pytest.approx(-cauchy, rel=1e-12)
    two = 2 * a * math.sqrt(2 / ((1 - 2 * a) * (1 + 2 * a)))
    assert stats.t_ppf(p, 2) == pytest.approx(two, rel=1e-12)
    assert stats.t_ppf(0.5, 7) == 0.0


@pytest.mark.parametrize("df", [1, 3, 8, 22, 100])
def test_t_cdf_matches_scipy(df: int) -> None:
    for t in (-6.0, -2.1, -0.3, 0.0, 0.7, 1.96, 4.5):
        assert stats.t_cdf(t, df) == pytest.approx(sps.t.cdf(t, df), rel=1e-10, abs=1e-14)


def test_betai_matches_scipy() -> None:
    for a, b in ((0.5, 0.5), (2.0, 3.0), (11.0, 0.5), (50.0, 0.5)):
        for x in (0.0, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0):
            assert stats.betai(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10, abs=1e-15)


def test_t_ppf_refuses_p_outside_0_1() -> None:
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="not in"):
            stats.t_ppf(p, 5)


# research §3.2 "Small n" table: critical |r| at α = 0.05 for one test, and Bonferroni over 16 tests
# (4 influencers × 4 lags).
RESEARCH = [(8, 0.707, 0.889), (11, 0.602, 0.800), (17, 0.482, 0.672), (23, 0.413, 0.589), (35, 0.334, 0.485)]


@pytest.mark.parametrize(("n", "single", "sixteen"), RESEARCH)
def test_r_needed_matches_the_research_table(n: int, single: float, sixteen: float) -> None:
    assert round(stats.r_needed(n, 1) or 0.0, 3) == single
    assert round(stats.r_needed(n, 16) or 0.0, 3) == sixteen


@pytest.mark.parametrize("n", [3, 8, 10, 24, 35])
@pytest.mark.parametrize("tests", [1, 4, 12, 16])
def test_r_needed_is_scipys_critical_rho(n: int, tests: int) -> None:
    t = sps.t.ppf(1 - 0.05 / tests / 2, n - 2)
    assert stats.r_needed(n, tests) == pytest.approx(t / math.sqrt(n - 2 + t * t), rel=1e-10)
    # and at that |ρ| the two-sided t test sits exactly at α / tests
    r = stats.r_needed(n, tests) or 0.0
    assert 2 * sps.t.sf(r * math.sqrt((n - 2) / (1 - r * r)), n - 2) == pytest.approx(0.05 / tests, rel=1e-8)


def test_r_needed_under_3_pairs_is_none() -> None:
    assert stats.r_needed(2, 4) is None
    assert stats.r_needed(0, 1) is None


# --- Fisher's z interval -----------------------------------------------------------------------------


def test_fisher_interval_spearman_by_hand() -> None:
    # ρ = 0.6, n = 20: atanh 0.6 = ½ ln(1.6 / 0.4) = ln 2 = 0.6931472; Bonett–Wright variance
    # (1 + 0.36/2)/17 = 1.18/17 = 0.0694118, √ = 0.2634611, × 1.959964 = 0.5163743;
    # tanh(0.6931472 − 0.5163743) = tanh(0.1767729) = 0.1749543, tanh(1.2095215) = 0.8365359
    lo, hi = stats.fisher_interval(0.6, 20) or (0.0, 0.0)
    assert lo == pytest.approx(0.1749543, abs=1e-7)
    assert hi == pytest.approx(0.8365359, abs=1e-7)
    # negative ρ mirrors
    lo, hi = stats.fisher_interval(-0.6, 20) or (0.0, 0.0)
    assert (lo, hi) == pytest.approx((-0.8365359, -0.1749543), abs=1e-7)


def test_fisher_interval_pearson_by_hand() -> None:
    # Pearson's variance 1/(n − 3) = 1/17: √ = 0.2425356, × 1.959964 = 0.4753611;
    # tanh(0.6931472 − 0.4753611) = tanh(0.2177861) = 0.2144069, tanh(1.1685083) = 0.8237934
    lo, hi = stats.fisher_interval(0.6, 20, method="pearson") or (0.0, 0.0)
    assert lo == pytest.approx(0.2144069, abs=1e-7)
    assert hi == pytest.approx(0.8237934, abs=1e-7)


@pytest.mark.parametrize(("n", "lo", "hi"), [(8, -0.32, 0.89), (11, -0.14, 0.85), (17, 0.03, 0.79),
                                             (23, 0.11, 0.76), (35, 0.20, 0.71)])
def test_pearson_interval_matches_the_research_table(n: int, lo: float, hi: float) -> None:
    # research §3.2: the 95% interval of r = 0.5 at each n
    a, b = stats.fisher_interval(0.5, n, method="pearson") or (0.0, 0.0)
    assert (round(a, 2), round(b, 2)) == (lo, hi)


def test_fisher_interval_edges() -> None:
    assert stats.fisher_interval(0.5, 3) is None  # n − 3 = 0: no variance
    assert stats.fisher_interval(0.5, 2) is None
    assert stats.fisher_interval(1.0, 12) == (1.0, 1.0)  # |ρ| = 1: atanh is infinite, the interval a point
    assert stats.fisher_interval(-1.0, 12) == (-1.0, -1.0)
    assert stats.fisher_interval(0.0, 12) == pytest.approx((-math.tanh(1.959964 / 3), math.tanh(1.959964 / 3)))
    assert stats.Z95 == 1.959964
    with pytest.raises(ValueError, match="not one of"):
        stats.fisher_interval(0.5, 12, method="kendall")


# --- AUC and DeLong ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "m", "n"), [(1, 2, 2), (2, 5, 7), (3, 30, 12), (4, 80, 25)])
def test_auc_is_mann_whitney_u_over_mn(seed: int, m: int, n: int) -> None:
    rng = random.Random(seed)
    pos = [float(rng.randint(0, 9)) for _ in range(m)]  # integers: ties across the groups
    neg = [float(rng.randint(0, 7)) for _ in range(n)]
    got = stats.auc(pos, neg)
    assert got is not None
    assert got[0] == pytest.approx(sps.mannwhitneyu(pos, neg).statistic / (m * n), rel=1e-12)


def _delong_by_midranks(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """Sun & Xu's (2014) midrank form of DeLong: an independent route to the AUC and its variance."""
    m, n = len(pos), len(neg)
    tz = sps.rankdata(pos + neg)
    tx, ty = sps.rankdata(pos), sps.rankdata(neg)
    v10 = [(tz[i] - tx[i]) / n for i in range(m)]
    v01 = [1 - (tz[m + j] - ty[j]) / m for j in range(n)]
    area = sum(v10) / m
    s10 = sum((v - area) ** 2 for v in v10) / (m - 1)
    s01 = sum((v - area) ** 2 for v in v01) / (n - 1)
    return area, s10 / m + s01 / n


def test_delong_by_hand_three_against_three_with_a_tie() -> None:
    # positives 3, 4, 5; negatives 1, 2, 4 (one tie, the 4s).
    # V10 (share of negatives each positive beats, a tie counting ½): 3 → 2/3, 4 → 2.5/3, 5 → 3/3.
    # AUC = (4/6 + 5/6 + 6/6)/3 = 5/6.
    # V01 (share of positives above each negative): 1 → 1, 2 → 1, 4 → 1.5/3 = 1/2; mean also 5/6.
    # S10 = ((−1/6)² + 0 + (1/6)²)/2 = 1/36; S01 = ((1/6)² + (1/6)² + (−1/3)²)/2 = 1/12.
    # var = S10/3 + S01/3 = 1/108 + 3/108 = 1/27, se = 0.1924501;
    # 5/6 ∓ 1.959964 · 0.1924501 = 0.4561381 and 1.2105286, clipped to 1.
    area, lo, hi = stats.auc([3.0, 4.0, 5.0], [1.0, 2.0, 4.0]) or (0.0, 0.0, 0.0)
    assert area == pytest.approx(5 / 6, rel=1e-15)
    assert lo == pytest.approx(5 / 6 - 1.959964 / math.sqrt(27), rel=1e-12)
    assert lo == pytest.approx(0.4561381, abs=1e-7)
    assert hi == 1.0


@pytest.mark.parametrize(("seed", "m", "n"), [(11, 4, 6), (12, 40, 15), (13, 120, 60)])
def test_delong_interval_matches_the_midrank_form(seed: int, m: int, n: int) -> None:
    rng = random.Random(seed)
    pos = [float(rng.randint(0, 12)) + 1.5 for _ in range(m)]  # shifted: AUC away from 0.5 and 1
    neg = [float(rng.randint(0, 12)) for _ in range(n)]
    area, var = _delong_by_midranks(pos, neg)
    got = stats.auc(pos, neg)
    assert got is not None
    half = 1.959964 * math.sqrt(var)
    assert got == pytest.approx((area, max(0.0, area - half), min(1.0, area + half)), rel=1e-12)


def test_auc_edges() -> None:
    assert stats.auc([], [1.0]) is None
    assert stats.auc([1.0], []) is None
    assert stats.auc([2.0], [1.0, 3.0]) == (0.5, 0.0, 1.0)  # one positive: DeLong undefined, [0, 1]
    assert stats.auc([2.0, 4.0], [3.0]) == (0.5, 0.0, 1.0)  # one negative
    area, lo, hi = stats.auc([5.0, 6.0, 7.0], [1.0, 2.0, 3.0]) or (0.0, 0.0, 0.0)
    assert (area, lo, hi) == (1.0, 1.0, 1.0)  # perfect separation: every placement is 1, no variance
    assert stats.auc([1.0, 1.0], [1.0, 1.0]) == (0.5, 0.5, 0.5)  # all tied


# --- quartiles ---------------------------------------------------------------------------------------


def _quartiles_by_scipy(values: list[float | None]) -> list[int | None]:
    known = [v for v in values if v is not None]
    r = iter(sps.rankdata(known, method="average"))
    return [None if v is None else max(1, min(4, math.ceil(4 * next(r) / len(known)))) for v in values]


def test_quartile_of_rules() -> None:
    assert stats.quartile_of([4.0, 3.0, 2.0, 1.0]) == [4, 3, 2, 1]  # one per quartile
    assert stats.quartile_of([float(i) for i in range(1, 9)]) == [1, 1, 2, 2, 3, 3, 4, 4]
    assert stats.quartile_of([None, 1.0, None]) == [None, 4, None]  # a single value: rank 1 of 1 → ⌈4 · 1/1⌉ = 4
    assert stats.quartile_of([]) == []
    assert stats.quartile_of([None, None]) == [None, None]
    # ties share a quartile: 2, 2 hold ranks 2 and 3 → mean 2.5 → ⌈4 · 2.5/4⌉ = 3
    assert stats.quartile_of([1.0, 2.0, 2.0, 9.0]) == [1, 3, 3, 4]


@pytest.mark.parametrize(("seed", "n"), [(1, 7), (2, 20), (3, 41), (4, 100)])
def test_quartile_of_matches_the_rule_on_scipy_ranks(seed: int, n: int) -> None:
    rng = random.Random(seed)
    values: list[float | None] = [None if rng.random() < 0.15 else float(rng.randint(0, 9)) for _ in range(n)]
    got = stats.quartile_of(values)
    assert got == _quartiles_by_scipy(values)
    known = [q for q in got if q is not None]
    assert set(known) <= {1, 2, 3, 4}
    for a, qa in zip(values, got, strict=True):  # a larger value never lands in a lower quartile
        for b, qb in zip(values, got, strict=True):
            if a is not None and b is not None and a < b:
                assert qa is not None
                assert qb is not None
                assert qa <= qb
