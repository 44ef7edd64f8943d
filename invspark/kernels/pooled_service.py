"""A service target met by a group of items together: whole units without the overshoot.

With whole units the textbook level of item i, y_i = min{y integer : service_i(y) >= alpha_i},
delivers service_i(y_i), which can lie far above the target: an item whose demand over the
interval is 0 with probability 0.78 gets y = 0 and a CSL of 0.78 at a 0.70 target. When the target
is set for a group of items (a segment of the ABC-XYZ matrix) it can be met by the group instead,
at less stock. Both service measures of Silver, Pyke & Thomas (2017), *Inventory and Production
Management in Supply Chains*, 4th ed., ch. 6, have an aggregate form behind their exchange curves
(total safety stock against a total shortage measure), a weighted sum over the group:

    sum_i w_i (1 - service_i(y_i)) <= sum_i w_i (1 - alpha_i)

* **cycle service level** (CSL, P1): service_i = F_i, the cdf of the protection-interval demand,
  and w_i = replenishment cycles per period (1 / R for (R,S), mu / Q for lot-sized policies). The
  left side is the group's expected stockout occasions per period (SPT's TESOPY criterion), the
  count the simulator's pooled CSL (kernels.inventory_simulation) is made of.
* **fill rate** (P2): service_i = beta_i, the item's expected fill rate at y_i, and w_i = mu_i,
  its mean demand per period. The left side is the group's expected units short per period (SPT's
  total shortage criterion, in units rather than value), so the group's unit-weighted fill rate,
  1 - sum short / sum demand, meets the group's target: what the simulator's pooled fill rate
  measures.

The investment sum_i c_i y_i is minimised. Each item keeps its own level y_i or takes y_i - 1:
never more than one unit below what its own target asks, so that no item's service is traded away
wholesale (the caveat SPT raise against the unconstrained aggregate solution), and never down to
nothing: an item at y_i = 1 keeps its unit (at 0 a slow item still meets P(D = 0) of its cycles but
fills none of its demand from stock; on the car parts data allowing it cost a tenth of the fill
rate at a 0.90 target, docs/outcomes.md). An item whose own level falls short of its own target (a
fill-rate level stopped at its cap, kernels.service_policies) keeps it and adds no slack. Lowering
item i saves c_i and spends w_i (service_i(y_i) - service_i(y_i - 1)) of the group's slack
sum_i w_i (service_i(y_i) - alpha_i); the items are lowered in ascending order of slack spent per
unit of money while the slack lasts (the greedy of the 0-1 knapsack, which leaves at most one
item's step unspent per group). A group's expected service therefore lands on its target from
above, within one item's step divided by the group's weight.

All per-item arrays are ``(n_items,)``; ``group`` holds codes 0..n_groups-1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Who meets a service target: every series on its own, or the series of a segment together (this module).
SERVICE_TARGET_SCOPES = ("series", "segment")


def pooled_levels(level, service_at_level, service_below, target, weight, unit_cost, group) -> np.ndarray:
    """Whole-unit levels whose group-weighted service meets each group's target (module docstring).

    ``level``: each item's own whole-unit level y_i; ``service_at_level`` service_i(y_i) and
    ``service_below`` service_i(y_i - 1) (the cdf for CSL targets, the expected fill rate for
    fill-rate targets); ``target`` alpha_i; ``weight`` w_i (cycles per period for CSL, mean demand
    per period for fill rates); ``unit_cost`` c_i (> 0; pass ones to minimise units); ``group`` the
    pool of each item. Returns the levels ``(n_items,)``: y_i, or y_i - 1 where y_i >= 2.
    """
    level = np.asarray(level, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    group = np.asarray(group, dtype=np.int64)
    service_at_level = np.asarray(service_at_level, dtype=np.float64)
    n_groups = int(group.max(initial=-1)) + 1
    slack = np.bincount(group, weights=weight * np.maximum(service_at_level - target, 0.0),
                        minlength=n_groups)  # (n_groups,)
    step = weight * (service_at_level - np.asarray(service_below))  # slack spent by lowering
    candidate = (level >= 2.0) & (service_at_level >= target - 1e-9)  # never down to an empty shelf, nor below a cap
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(candidate, step / np.asarray(unit_cost, dtype=np.float64), np.inf)
    order = np.lexsort((np.arange(level.size), price, group))  # by group, then cheapest slack first
    spent = np.cumsum(np.where(candidate, step, 0.0)[order])  # (n_items,) running over all groups
    first = np.searchsorted(group[order], np.arange(n_groups))  # each group's first sorted position
    before = np.concatenate([[0.0], spent])[first]  # (n_groups,): slack spent by earlier groups
    within = spent - before[group[order]]
    lowered = np.zeros(level.size, dtype=bool)
    lowered[order] = candidate[order] & (within <= slack[group[order]] * (1.0 + 1e-12))
    return np.where(lowered, level - 1.0, level)


def pool_unit_costs(unit_cost, group) -> np.ndarray:
    """Each item's unit cost, where unknown (NaN or <= 0) its group's median known cost, else 1:
    a group without any cost minimises units, and one with a few unknowns prices them as typical.
    ``(n_items,)``."""
    known = pd.Series(np.where(np.asarray(unit_cost, dtype=np.float64) > 0, unit_cost, np.nan))
    typical = known.groupby(np.asarray(group)).transform("median").fillna(1.0)
    return known.fillna(typical).to_numpy()
