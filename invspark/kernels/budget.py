"""Spend an inventory budget per location where it buys the most service per unit of money.

Model (the multi-item service-constrained allocation of SPP 4th ed. ch. 7, "exchange curves",
solved by a Lagrange multiplier per location): items i at location g(i), each with demand X_i
over its protection interval (`IntervalDemand`), a level y_i (reorder point or order-up-to
level) between `lower_i` and `upper_i`, unit cost c_i and a weight w_i that turns the expected
shortage per cycle B_i(y) = E[(X_i - y)^+] into units short per period (w = mu / Q for (s,Q),
1 / R for (R,S)). Per location

    minimize  sum_i w_i B_i(y_i)   subject to   sum_i c_i (y_i - lower_i) <= budget_g.

B_i is convex and decreasing (B_i'(y) = -(1 - F_i(y))), so the KKT conditions give, for the
location's multiplier lambda_g >= 0 (money per unit short per period),

    y_i(lambda) = clip(F_i^-1(1 - lambda c_i / w_i), lower_i, upper_i),

the greedy rule "raise the item whose next unit of money avoids the most shortage" in closed
form. Spend is non-increasing in lambda, so lambda_g is found by a bisection run for all
locations at once (spend per location by `np.bincount`), keeping the feasible side. For
continuous families this is the exact optimum; for discrete families (integer quantiles) the
result is feasible and optimal for its multiplier, and may leave less than one unit's cost of
budget unspent per item.

All per-item arrays are `(n_items,)`; `group` holds location codes 0..n_groups-1 and `budget`
is `(n_groups,)`.
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.demand_over_interval import IntervalDemand

# Quantile used for "no shortage left": F^-1 of this is the top of any item's useful range.
_TOP = 1.0 - 1e-12


def levels_for_multiplier(demand: IntervalDemand, multiplier, weight, unit_cost, lower,
                          upper) -> np.ndarray:
    """y_i(lambda) = clip(F_i^-1(1 - lambda c_i / w_i), lower_i, upper_i), `(n_items,)`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.asarray(multiplier) * np.asarray(unit_cost) / np.asarray(weight)
    quantile = np.clip(1.0 - tail, 1e-15, _TOP)
    level = np.where(tail >= 1.0, lower, demand.ppf(quantile))
    return np.clip(level, lower, upper)


def spend_by_group(level, lower, unit_cost, group, n_groups) -> np.ndarray:
    """sum_i c_i (y_i - lower_i) per location, `(n_groups,)`."""
    return np.bincount(group, weights=unit_cost * (level - lower), minlength=n_groups)


def allocate_budget(demand: IntervalDemand, weight, unit_cost, lower, upper, group, budget,
                    iterations: int = 100):
    """Levels and per-location multipliers that spend each location's budget (module doc).

    Returns (level `(n_items,)`, multiplier `(n_groups,)`); multiplier 0 where the budget covers
    every item at its upper level.
    """
    weight = np.asarray(weight, dtype=np.float64)
    unit_cost = np.asarray(unit_cost, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.maximum(np.asarray(upper, dtype=np.float64), lower)
    group = np.asarray(group, dtype=np.int64)
    budget = np.asarray(budget, dtype=np.float64)
    n_groups = len(budget)

    def spend(multiplier_per_group):
        level = levels_for_multiplier(demand, multiplier_per_group[group], weight, unit_cost,
                                      lower, upper)
        return level, spend_by_group(level, lower, unit_cost, group, n_groups)

    # lambda_hi = max w / c of the location puts every item at its lower level (spend 0).
    ratio = np.where(unit_cost > 0, weight / np.where(unit_cost > 0, unit_cost, 1.0), 0.0)
    hi = np.zeros(n_groups)
    np.maximum.at(hi, group, ratio)  # unbuffered per-location max, vectorized
    hi = hi * (1.0 + 1e-9) + 1e-300
    lo = np.zeros(n_groups)
    _, full_spend = spend(lo)
    affordable = full_spend <= budget
    for _ in range(iterations):  # bisection in log space between lo (over budget) and hi
        mid = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi)
        _, mid_spend = spend(mid)
        over = mid_spend > budget
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    multiplier = np.where(affordable, 0.0, hi)
    level, _ = spend(multiplier)
    return level, multiplier
