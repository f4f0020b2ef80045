"""The statistics of ``kpi tree``, in plain Python: deterministic, no numpy or scipy at run time.

Spearman's ρ (Pearson on average ranks), its Fisher-z interval with the Bonett–Wright variance
(1 + ρ²/2)/(n − 3), the critical |ρ| from Student's t (``r_needed``), and the AUC with DeLong's
interval. Sums go through :func:`math.fsum`, so a rerun gives the same bits.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

Z95 = 1.959964  # SPEC §3.5: the interval's z


def ranks(xs: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank.

    Examples
    --------
    >>> ranks([10.0, 30.0, 20.0, 20.0])
    [1.0, 4.0, 2.5, 2.5]
    """
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        mean = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = mean
        i = j + 1
    return out


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None under 3 pairs or when a side is constant.

    Examples
    --------
    >>> pearson([1, 2, 3], [2, 4, 6.5]) > 0.99
    True
    """
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's ρ: Pearson's r of the average ranks.

    Examples
    --------
    >>> spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])
    0.8207826816681233
    """
    if len(xs) < 3:
        return None
    return pearson(ranks(xs), ranks(ys))


def fisher_interval(rho: float, n: int, method: str = "spearman", z: float = Z95) -> tuple[float, float] | None:
    """The 95% interval of ρ from Fisher's z: variance (1 + ρ²/2)/(n − 3) for Spearman (Bonett–Wright),
    1/(n − 3) for Pearson. None when n ≤ 3; a perfect |ρ| = 1 is its own interval.

    Examples
    --------
    >>> lo, hi = fisher_interval(0.5, 23)  # atanh 0.5 = 0.5493 ± 1.959964·√(1.125/20) = ± 0.4648
    >>> round(lo, 4), round(hi, 4)
    (0.0843, 0.7675)
    """
    if method not in ("spearman", "pearson"):
        msg = f"method {method!r} is not one of spearman, pearson"
        raise ValueError(msg)
    if n <= 3:
        return None
    if abs(rho) >= 1:
        return rho, rho
    var = (1 + rho * rho / 2) / (n - 3) if method == "spearman" else 1 / (n - 3)
    centre, half = math.atanh(rho), z * math.sqrt(var)
    return math.tanh(centre - half), math.tanh(centre + half)


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return h


def _betai_pair(a: float, b: float, x: float, y: float) -> tuple[float, float]:
    """(I_x(a, b), I_y(b, a)) for y = 1 − x given separately: they add to 1, and the one the continued
    fraction converges for is computed directly, so the smaller of the two keeps its relative precision
    (1 − x, formed from x, would lose it near x = 1)."""
    if x <= 0:
        return 0.0, 1.0
    if y <= 0:
        return 1.0, 0.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y))
    if x < (a + 1) / (a + b + 2):
        lower = front * _betacf(a, b, x) / a
        return lower, 1 - lower
    upper = front * _betacf(b, a, y) / b
    return 1 - upper, upper


def betai(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b).

    Examples
    --------
    >>> round(betai(2, 3, 0.4), 10)  # 1 − (0.6⁴ + 4·0.4·0.6³) = 0.5248
    0.5248
    """
    return _betai_pair(a, b, x, 1 - x)[0]


def _t_halves(t: float, df: float) -> tuple[float, float]:
    """(P(0 < T < |t|), P(T > |t|)) for Student's t: ½ I_x(½, df/2) and ½ I_y(df/2, ½) with
    x = t²/(df + t²), y = df/(df + t²), each formed without a subtraction."""
    tt = t * t
    central, tail = _betai_pair(0.5, df / 2, tt / (df + tt), df / (df + tt))
    return 0.5 * central, 0.5 * tail


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function.

    Examples
    --------
    >>> t_cdf(0.0, 5), round(t_cdf(2.015048, 5), 6)
    (0.5, 0.95)
    """
    central, tail = _t_halves(t, df)
    return 0.5 + central if t >= 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Student's t quantile, by bisection on the t distribution (to the last bits a float holds).

    Near p = ½ the bisection compares P(0 < T < t) with p − ½, near 1 it compares P(T > t) with 1 − p
    (both differences are exact in floating point), so the quantile keeps its relative precision at
    both ends.

    Examples
    --------
    >>> round(t_ppf(0.975, 10), 6)
    2.228139
    """
    if not 0 < p < 1:
        msg = f"p = {p} is not in (0, 1)"
        raise ValueError(msg)
    if p < 0.5:
        return -t_ppf(1 - p, df)
    if p == 0.5:
        return 0.0
    half, upper = p - 0.5, 1 - p

    def below(t: float) -> bool:  # is the t distribution function at t still under p?
        central, tail = _t_halves(t, df)
        return tail > upper if upper < half else central < half

    lo, hi = 0.0, 1.0
    while below(hi):
        hi *= 2
    for _ in range(2100):  # from [0, 1] down to a subnormal quantile takes ~1075 halvings
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if below(mid):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def r_needed(n: int, tests: int, alpha: float = 0.05) -> float | None:
    """The two-sided critical |ρ| for ``n`` pairs at α / ``tests`` (Bonferroni), from Student's t with
    n − 2 degrees of freedom: t / √(n − 2 + t²). None under 3 pairs.

    Examples
    --------
    >>> round(r_needed(11, 1), 3), round(r_needed(11, 16), 3)
    (0.602, 0.8)
    """
    if n < 3:
        return None
    t = t_ppf(1 - alpha / tests / 2, n - 2)
    return t / math.sqrt(n - 2 + t * t)


def spearman_test(xs: Sequence[float | None], ys: Sequence[float | None],
                  method: str = "spearman") -> tuple[float | None, int, tuple[float, float] | None]:
    """(ρ, n, interval) over the pairs where both sides are known.

    Examples
    --------
    >>> spearman_test([1, None, 2, 3, 4], [1, 5, 2, 3, 5])[:2]
    (1.0, 4)
    """
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    rho = spearman(a, b) if method == "spearman" else pearson(a, b)
    return rho, len(pairs), fisher_interval(rho, len(pairs), method) if rho is not None else None


def auc(positives: Sequence[float], negatives: Sequence[float], z: float = Z95) -> tuple[float, float, float] | None:
    """P(a positive > a negative) + ½ P(tie) (Mann–Whitney), with DeLong's 95% interval clipped to [0, 1].

    In ``kpi tree --level account`` the positives are retained accounts and the negatives churned ones.
    With a single positive or negative DeLong's variance is undefined: the interval is then [0, 1].

    Examples
    --------
    >>> auc([3.0, 4.0, 5.0], [1.0, 2.0, 4.0])[0]  # 7 of 9 pairs ordered, one tie: (7 + 0.5) / 9
    0.8333333333333334
    """
    m, n = len(positives), len(negatives)
    if not m or not n:
        return None
    neg = sorted(negatives)
    pos = sorted(positives)

    def placement(v: float, others: list[float], above: bool) -> float:
        lo, hi = bisect.bisect_left(others, v), bisect.bisect_right(others, v)
        below_count = lo if above else len(others) - hi
        return (below_count + 0.5 * (hi - lo)) / len(others)

    v10 = [placement(x, neg, True) for x in positives]  # share of negatives each positive beats
    v01 = [placement(y, pos, False) for y in negatives]  # share of positives above each negative
    area = math.fsum(v10) / m
    if m < 2 or n < 2:
        return area, 0.0, 1.0
    s10 = math.fsum((v - area) ** 2 for v in v10) / (m - 1)
    s01 = math.fsum((v - area) ** 2 for v in v01) / (n - 1)
    se = math.sqrt(s10 / m + s01 / n)
    return area, max(0.0, area - z * se), min(1.0, area + z * se)


def quartile_of(values: Sequence[float | None]) -> list[int | None]:
    """Quartile 1–4 of each value by its average rank among the known ones: ⌈4 · rank / n⌉, so tied
    values share a quartile; None stays None.

    Examples
    --------
    >>> quartile_of([5.0, 1.0, None, 3.0, 3.0, 9.0, 7.0, 2.0, 8.0])
    [3, 1, None, 2, 2, 4, 3, 1, 4]
    """
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    r = ranks([v for _, v in known])
    out: list[int | None] = [None] * len(values)
    for (i, _), rank in zip(known, r, strict=True):
        out[i] = max(1, min(4, math.ceil(4 * rank / len(known))))
    return out
