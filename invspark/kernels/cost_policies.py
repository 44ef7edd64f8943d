"""Cost-driven policies: EOQ, critical-ratio base stock (newsvendor), cost-optimal (r,Q) and (s,S).

Costs are per period: `holding_cost` h per unit per period, `ordering_cost` K per order,
`stockout_cost` p per unit short (backordered). Demand `demand_rate` mu is per period. All arrays
are `(n_series,)`.

- EOQ (Snyder & Shen 2nd ed. eq. 3.4; Harris 1913): Q* = sqrt(2 K mu / h).
- Critical-ratio base stock for a periodic review of R periods: a unit stocked at S is carried
  for about R periods (overage h R) and a unit short costs p (underage), so
  P(X_{L+R} <= S) = p / (p + h R), the newsvendor critical ratio (Snyder & Shen 2nd ed. eq. 4.15,
  Example 4.3; with R = 1 and protection L + 1 their Example 4.4 base-stock level).
- (r,Q) by the iterative Hadley-Whitin / EIL approximation (Snyder & Shen 2nd ed. section 5.3;
  Hadley & Whitin 1963): alternate
      Q = sqrt(2 mu (K + p n(r)) / h),   1 - F(r) = Q h / (p mu)
  from Q = EOQ until Q and r stop moving, n(r) = E[(X_L - r)^+] the loss over the lead time.
- (s,S): s, Q from the (r,Q) solution and S = s + Q (the (r,Q) approximation of (s,S); undershoot
  ignored, SPP 4th ed. ch. 7).

Where the cost ratio Q h / (p mu) is >= 1 the stockout is cheaper than carrying any stock over
the interval; the critical ratio is then floored at `MIN_COST_CSL` (management's lowest allowed
service, SPP's "lowest allowable k").
"""

from __future__ import annotations

import numpy as np

from invspark.kernels.demand_over_interval import IntervalDemand

MIN_COST_CSL = 0.5
MAX_COST_CSL = 1.0 - 1e-6


def economic_order_quantity(demand_rate, ordering_cost, holding_cost) -> np.ndarray:
    """Q* = sqrt(2 K mu / h); NaN where K, mu or h is missing or h <= 0.

    Snyder & Shen 2nd ed. Example 3.1: K = 8, h = 0.225, mu = 1300 gives Q* = 304.05.
    """
    demand_rate = np.asarray(demand_rate, dtype=np.float64)
    ordering_cost = np.asarray(ordering_cost, dtype=np.float64)
    holding_cost = np.asarray(holding_cost, dtype=np.float64)
    safe_h = np.where(holding_cost > 0, holding_cost, np.nan)
    with np.errstate(invalid="ignore"):
        return np.sqrt(2.0 * ordering_cost * demand_rate / safe_h)


def critical_ratio(stockout_cost, holding_cost, review_period=1.0) -> np.ndarray:
    """p / (p + h R), clipped to [MIN_COST_CSL, MAX_COST_CSL]; NaN where p or h is missing."""
    p = np.asarray(stockout_cost, dtype=np.float64)
    overage = np.asarray(holding_cost, dtype=np.float64) * np.asarray(review_period, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = p / (p + overage)
    return np.clip(ratio, MIN_COST_CSL, MAX_COST_CSL)


def base_stock_level(protection: IntervalDemand, holding_cost, stockout_cost,
                     review_period=1.0) -> np.ndarray:
    """Cost-optimal order-up-to level: the critical_ratio quantile of demand over L + R."""
    return protection.ppf(critical_ratio(stockout_cost, holding_cost, review_period))


def cost_optimal_rq(lead: IntervalDemand, demand_rate, holding_cost, stockout_cost,
                    ordering_cost, max_iterations=100, rtol=1e-9):
    """(r, Q) minimizing h (r - mu L + Q/2) + K mu / Q + p mu n(r) / Q (EIL), iteratively.

    `lead`: demand over the lead time; the other arguments `(n_series,)`. Rows without an
    ordering cost (NaN) come back with Q = NaN: the caller picks Q for them and calls
    `reorder_point_for_quantity`.
    Returns (reorder_point, order_quantity), each `(n_series,)`. Discrete families give integer r.
    """
    mu = np.asarray(demand_rate, dtype=np.float64)
    h = np.asarray(holding_cost, dtype=np.float64)
    p = np.asarray(stockout_cost, dtype=np.float64)
    quantity = economic_order_quantity(mu, ordering_cost, h)
    reorder_point = reorder_point_for_quantity(lead, quantity, mu, h, p)
    for _ in range(max_iterations):
        shortage = lead.loss(reorder_point)
        with np.errstate(invalid="ignore"):
            new_quantity = np.sqrt(2.0 * mu * (np.asarray(ordering_cost) + p * shortage) / h)
        new_reorder_point = reorder_point_for_quantity(lead, new_quantity, mu, h, p)
        moved = np.abs(new_quantity - quantity) > rtol * (1.0 + np.abs(quantity))
        moved |= np.abs(new_reorder_point - reorder_point) > rtol * (1.0 + np.abs(reorder_point))
        quantity, reorder_point = new_quantity, new_reorder_point
        if not np.any(moved & ~np.isnan(quantity)):
            break
    return reorder_point, quantity


def reorder_point_for_quantity(lead: IntervalDemand, order_quantity, demand_rate, holding_cost,
                               stockout_cost) -> np.ndarray:
    """The EIL-optimal r for a given Q: 1 - F(r) = Q h / (p mu), CSL clipped as in the module doc."""
    mu = np.asarray(demand_rate, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tail = (np.asarray(order_quantity) * np.asarray(holding_cost)
                / (np.asarray(stockout_cost) * mu))
    csl = np.clip(1.0 - tail, MIN_COST_CSL, MAX_COST_CSL)
    return lead.ppf(csl)
