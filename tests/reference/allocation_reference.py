"""Obvious per-row / per-group loop references for invspark.kernels.allocation.

Slow on purpose: scalar scipy calls, numerical integration, and brute-force enumeration of every
whole-case allocation. Used only by tests/test_allocation.py.
"""

from __future__ import annotations

import itertools
import math

from scipy import integrate, stats


def expected_sales_one(stock: float, mean: float, std: float, distribution: str) -> float:
    """E[min(max(D, 0), stock)] = integral_0^stock P(D > t) dt, by summation (integer demand)
    or numerical quadrature (continuous demand)."""
    if mean <= 0:
        return 0.0
    if distribution == "negbin" and std**2 <= mean:
        distribution = "poisson"
    if distribution in ("normal", "gamma") and std <= 0:
        return min(mean, stock)
    if distribution == "poisson":
        law = stats.poisson(mean)
    elif distribution == "negbin":
        var = std**2
        law = stats.nbinom(mean**2 / (var - mean), mean / var)
    elif distribution == "normal":
        law = stats.norm(mean, std)
    else:
        law = stats.gamma((mean / std) ** 2, scale=std**2 / mean)
    if distribution in ("poisson", "negbin"):
        whole = math.floor(stock)
        return sum(float(law.sf(j)) for j in range(whole)) + (stock - whole) * float(law.sf(whole))
    value, _ = integrate.quad(lambda t: law.sf(t), 0.0, stock, limit=200, epsabs=1e-12, epsrel=1e-12)
    return value


def best_allocation_value(stores: list[dict], available: float) -> float:
    """Max of sum_i margin_i E[min(D_i, on_hand_i + q_i)] over q_i in {0, c, .., requested_i},
    sum q_i <= available, by enumerating every combination (one sku x DC group)."""
    choices = [
        [k * s["case_pack"] for k in range(int(round(s["requested_units"] / s["case_pack"])) + 1)] for s in stores
    ]
    # each store's expected margin for each of its choices, computed once
    values = [
        {q: s["unit_margin"] * expected_sales_one(s["on_hand"] + q, s["demand_mean"], s["demand_std"], s["distribution"])
         for q in options}
        for s, options in zip(stores, choices)
    ]
    best = -math.inf
    for quantities in itertools.product(*choices):
        if sum(quantities) > available + 1e-9:
            continue
        best = max(best, sum(table[q] for table, q in zip(values, quantities)))
    return best


def fair_share_one_group(requested_cases: list[int], available_cases: int) -> list[int]:
    """Largest-remainder (Hamilton) proportional shares of one group, in cases."""
    total = sum(requested_cases)
    if total <= available_cases:
        return list(requested_cases)
    exact = [available_cases * r / total for r in requested_cases]
    shares = [math.floor(e + 1e-9) for e in exact]
    left = available_cases - sum(shares)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares
