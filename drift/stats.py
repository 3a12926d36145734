"""Significance tests and summary statistics of binned distributions (standard library only).

The drift check only has bin counts (the baseline's bins, the served values counted into them),
so the tests here work on bins:

- ``ks_pvalue``: the asymptotic two-sample Kolmogorov–Smirnov p-value with Stephens' small-sample
  correction, ``Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D)`` with ``nₑ = n·m/(n + m)`` (Numerical Recipes
  14.3; Stephens 1970). Evaluated at the baseline's cut points, ``D`` is at most the exact
  statistic, so the p-value is at least the exact one: the test errs towards "no drift".
- ``chi2_homogeneity``: the chi-square test of two samples' counts over the same bins (a 2 × k
  contingency table), bins expected to hold fewer than 5 rows pooled into one, as usual.
- ``quantile``: a quantile of a binned distribution, interpolated linearly inside its bin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_EXPECTED = 5.0
"""Bins expected to hold fewer rows than this (in the smaller sample) are pooled for chi-square."""


def ks_pvalue(d: float, n: float, m: float) -> float:
    """P(D ≥ ``d``) for two samples of ``n`` and ``m`` values from one distribution."""
    if math.isnan(d):
        return math.nan
    if n <= 0 or m <= 0:
        return 1.0
    ne = n * m / (n + m)
    root = math.sqrt(ne)
    lam = (root + 0.12 + 0.11 / root) * d
    if lam < 0.3:  # the series converges slowly there and its value is 1 to 7 digits
        return 1.0
    total, sign = 0.0, 1.0
    for k in range(1, 101):
        term = sign * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12 * total:
            break
        sign = -sign
    return min(1.0, max(0.0, 2.0 * total))


def chi2_sf(x: float, df: int) -> float:
    """P(χ²(df) ≥ ``x``): the regularized upper incomplete gamma function Q(df/2, x/2)."""
    if math.isnan(x):
        return math.nan
    if df <= 0 or x <= 0:
        return 1.0
    a, z = df / 2.0, x / 2.0
    if z < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-z + a * math.log(z) - math.lgamma(a)))
    # continued fraction for Q (modified Lentz)
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-z + a * math.log(z) - math.lgamma(a)) * h)


def chi2_homogeneity(
    reference: Sequence[float], current: Sequence[float]
) -> tuple[float, int, float]:
    """``(statistic, degrees of freedom, p-value)`` of two samples' counts over the same bins.

    ``reference`` may hold fractional counts (shares times an effective size). Bins expected to
    hold fewer than ``MIN_EXPECTED`` rows of the smaller sample are pooled into one bin."""
    n, m = math.fsum(reference), math.fsum(current)
    if n <= 0 or m <= 0:
        return 0.0, 0, 1.0
    small = min(n, m) / (n + m)
    kept: list[tuple[float, float]] = []
    pooled_r = pooled_c = 0.0
    for r, c in zip(reference, current, strict=True):
        if r + c <= 0:
            continue
        if (r + c) * small < MIN_EXPECTED:
            pooled_r += r
            pooled_c += c
        else:
            kept.append((r, c))
    if pooled_r + pooled_c > 0:
        kept.append((pooled_r, pooled_c))
    if len(kept) < 2:
        return 0.0, 0, 1.0
    statistic = n * m * math.fsum((r / n - c / m) ** 2 / (r + c) for r, c in kept)
    df = len(kept) - 1
    return statistic, df, chi2_sf(statistic, df)


def quantile(
    shares: Sequence[float], edges: Sequence[float], low: float, high: float, q: float
) -> float | None:
    """The ``q`` quantile of a distribution given as bin shares between ``edges`` (bin ``i`` is
    ``(edges[i-1], edges[i]]``; the outer bins end at ``low`` and ``high``), interpolated
    linearly inside the bin: exact to one bin's width."""
    total = math.fsum(shares)
    if total <= 0 or not math.isfinite(low) or not math.isfinite(high):
        return None
    bounds = [low, *edges, high]
    target = q * total
    cumulative = 0.0
    for index, share in enumerate(shares):
        if share > 0 and cumulative + share >= target:
            left = min(bounds[index], bounds[index + 1])
            right = bounds[index + 1]
            return left + (right - left) * max(0.0, target - cumulative) / share
        cumulative += share
    return high


def js_base_e(distance_base_2: float) -> float:
    """A Jensen–Shannon distance in base 2 expressed in base e (scipy's and evidently's default):
    the divergence scales by ln 2, the distance by √ln 2 ≈ 0.8326."""
    return distance_base_2 * math.sqrt(math.log(2))
