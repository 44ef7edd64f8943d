"""Service-driven reorder points and order-up-to levels: cycle service level and fill rate.

Protection intervals (SPP 4th ed., ch. 6 (s,Q) and (R,S) systems): a continuous-review (s,Q) or
(s,S) system protects over the lead time L; a periodic-review (R,S) or (R,s,S) system over L + R.
`IntervalDemand` (see demand_over_interval) supplies the cdf, quantiles and the loss function
B(y) = E[(X - y)^+] over each interval.

- Cycle service level (P1 / CSL): the smallest level y with P(X <= y) >= target:
  y = mu + k sigma with k = Phi^-1(target) for the normal (SPP), the exact integer quantile for
  Poisson and negative binomial (scipy ppf).
- Fill rate (P2 / beta), backordering, exact expected shortage per replenishment cycle:
  (s,Q):  ESPRC(s) = B_L(s) - B_L(s + Q),          beta(s) = 1 - ESPRC(s) / Q
  (R,S):  ESPRC(S) = B_{L+R}(S) - B_L(S),          beta(S) = 1 - ESPRC(S) / (mu_D R)
  (Hadley & Whitin; Axsaeter 3rd ed. 5.10 for (R,Q); SPP's fill-rate rule G(k) = Q (1 - P2) /
  sigma_L drops the second term, which is negligible when Q >> sigma_L.) beta is non-decreasing
  in the level, so the smallest level meeting the target is found by a vectorized bisection
  (integer bisection for discrete families).
- (s,S) and (R,s,S): S = s + Q with Q an EOQ (SPP's simple approach), and s as the (s,Q) rule
  with Q = S - s over L (resp. L + R) for the demand plus the undershoot of s
  (kernels.undershoot), the fill rate dividing by the mean order Q + E[U].
- Ceiling: a fill-rate level is at most the FILL_RATE_MAX_CSL quantile of the protection-interval
  demand. Where a target needs more, it is bought with stock against events rarer than once in
  1 / (1 - FILL_RATE_MAX_CSL) cycles; under a heavy-tailed law with a mean near zero (an item
  that has all but stopped selling, whose forecast error still has the spread of its past sales)
  that level runs to hundreds of thousands of units for a demand of a ten-thousandth of a unit per
  period. The level stops at the ceiling, its expected fill rate falls short of the target, and
  the policy flags the row (`fill_rate_capped`). SPP 4th ed. ch. 6 recommend other criteria
  than P2 for such very slow movers.

All arrays are `(n_series,)`.
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.demand_over_interval import IntervalDemand

# Tail probability used to bracket the level search: below ppf(_TAIL) and above ppf(1 - _TAIL).
_TAIL = 1e-10
# A fill-rate level never exceeds this quantile of the protection-interval demand (module docstring).
FILL_RATE_MAX_CSL = 0.999


def smallest_level_meeting(meets, lo, hi, discrete, rtol=1e-10, max_iterations=200):
    """Smallest y in [lo, hi] with meets(y) True, for every series at once (vectorized bisection).

    `meets(y, rows)` maps levels `y` of the series at integer positions `rows` to a bool array of
    the same length and is monotone in y (False then True). Each step evaluates only the series
    whose bracket is still open. Where meets(hi) is False the result is hi; where meets(lo) is
    True it is lo. `discrete` rows are searched over integers (lo, hi rounded outwards).
    Returns `(n_series,)` float64.
    """
    lo = np.where(discrete, np.floor(lo), lo).astype(np.float64)
    hi = np.where(discrete, np.ceil(hi), hi).astype(np.float64)
    all_rows = np.arange(len(lo))
    at_lo = meets(lo, all_rows)
    for _ in range(max_iterations):
        width = hi - lo
        open_rows = np.where(discrete, width > 1.0, width > rtol * (1.0 + np.abs(hi)))
        rows = np.flatnonzero(open_rows & ~at_lo)
        if rows.size == 0:
            break
        mid = np.where(discrete[rows], np.floor(0.5 * (lo[rows] + hi[rows])),
                       0.5 * (lo[rows] + hi[rows]))
        ok = meets(mid, rows)
        hi[rows] = np.where(ok, mid, hi[rows])
        lo[rows] = np.where(ok, lo[rows], mid)
    return np.where(at_lo, lo, hi)


def csl_level(protection: IntervalDemand, target) -> np.ndarray:
    """Level y with P(X <= y) >= target over the protection interval (reorder point or S)."""
    return protection.ppf(target)


def fill_rate_sq(protection: IntervalDemand, reorder_point, order_quantity, cycle_demand=None) -> np.ndarray:
    """beta = 1 - (B(s) - B(s + Q)) / Q for an (s,Q) system; Q <= 0 gives 1 (nothing to fill).

    For (s,S) pass `protection` = demand plus undershoot, Q = S - s and `cycle_demand` = the mean
    order Q + E[U] (the demand of one cycle, default Q)."""
    order_quantity = np.asarray(order_quantity, dtype=np.float64)
    cycle_demand = order_quantity if cycle_demand is None else np.asarray(cycle_demand, dtype=np.float64)
    shortage = protection.loss(reorder_point) - protection.loss(reorder_point + order_quantity)
    safe_d = np.where(cycle_demand > 0, cycle_demand, 1.0)
    return np.where(order_quantity > 0, np.clip(1.0 - shortage / safe_d, 0.0, 1.0), 1.0)


def fill_rate_rs(lead: IntervalDemand, protection: IntervalDemand, order_up_to,
                 demand_per_review) -> np.ndarray:
    """beta = 1 - (B_{L+R}(S) - B_L(S)) / (mu_D R) for an (R,S) system; no demand gives 1."""
    demand_per_review = np.asarray(demand_per_review, dtype=np.float64)
    shortage = protection.loss(order_up_to) - lead.loss(order_up_to)
    safe_d = np.where(demand_per_review > 0, demand_per_review, 1.0)
    return np.where(demand_per_review > 0, np.clip(1.0 - shortage / safe_d, 0.0, 1.0), 1.0)


def fill_rate_ceiling(protection: IntervalDemand) -> np.ndarray:
    """The highest fill-rate level: the FILL_RATE_MAX_CSL quantile of the protection demand."""
    return protection.ppf(np.full(protection.mean.shape, FILL_RATE_MAX_CSL))


def _bracket(protection: IntervalDemand, width):
    lo = protection.ppf(np.full(protection.mean.shape, _TAIL)) - width - 1.0
    return lo, np.maximum(fill_rate_ceiling(protection), lo)


def fill_rate_level_sq(protection: IntervalDemand, order_quantity, target, cycle_demand=None) -> np.ndarray:
    """Smallest reorder point s with fill_rate_sq(s, Q, cycle_demand) >= target (SPP (s,Q) with P2),
    at most `fill_rate_ceiling(protection)`."""
    shape = protection.mean.shape
    order_quantity = np.broadcast_to(np.asarray(order_quantity, dtype=np.float64), shape)
    cycle_demand = order_quantity if cycle_demand is None else np.broadcast_to(
        np.asarray(cycle_demand, dtype=np.float64), shape)
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), shape)
    lo, hi = _bracket(protection, np.nan_to_num(order_quantity, nan=0.0))
    return smallest_level_meeting(
        lambda s, rows: fill_rate_sq(protection.take(rows), s, order_quantity[rows], cycle_demand[rows])
        >= target[rows],
        lo, hi, protection.discrete,
    )


def fill_rate_level_rs(lead: IntervalDemand, protection: IntervalDemand, demand_per_review,
                       target) -> np.ndarray:
    """Smallest order-up-to level S with fill_rate_rs(S) >= target (SPP (R,S) with P2), at most
    `fill_rate_ceiling(protection)`."""
    shape = protection.mean.shape
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), shape)
    lo, hi = _bracket(protection, 0.0)
    lo = np.minimum(lo, lead.ppf(np.full(lead.mean.shape, _TAIL)) - 1.0)
    demand_per_review = np.broadcast_to(np.asarray(demand_per_review, dtype=np.float64), shape)
    return smallest_level_meeting(
        lambda level, rows: fill_rate_rs(lead.take(rows), protection.take(rows), level,
                                         demand_per_review[rows]) >= target[rows],
        lo, hi, protection.discrete,
    )
