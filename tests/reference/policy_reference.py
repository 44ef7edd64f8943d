"""Obvious per-series loops that the vectorized policy kernels are checked against.

Slow on purpose: one scipy frozen distribution per row, losses by explicit summation (discrete)
or numerical integration (continuous), levels by scalar root finding or an integer scan.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize, stats


def interval_distribution(mu, sigma, lead, lead_std, review, distribution):
    """A frozen scipy distribution of demand over lead + review periods (None = point mass)."""
    interval = lead + review
    if distribution == "poisson":
        sigma = math.sqrt(mu)
    mean = mu * interval
    var = interval * sigma**2 + mu**2 * lead_std**2
    if mean <= 0 or var <= 0:
        return None, mean
    if distribution == "normal":
        return stats.norm(mean, math.sqrt(var)), mean
    if distribution in ("gamma", "empirical"):
        return stats.gamma(mean**2 / var, scale=var / mean), mean
    if var > mean * (1 + 1e-9) and (distribution == "negbin" or lead_std > 0):
        return stats.nbinom(mean**2 / (var - mean), mean / var), mean
    return stats.poisson(mean), mean


def loss(dist, mean, x):
    """E[(X - x)^+] by summation (discrete) or quad (continuous)."""
    if dist is None:
        return max(mean - x, 0.0)
    if hasattr(dist, "pmf"):
        top = int(dist.ppf(1 - 1e-15)) + 50
        d = np.arange(0, top + 1)
        return float(np.sum(np.maximum(d - x, 0.0) * dist.pmf(d)))
    lo = max(x, dist.ppf(1e-14)) if dist.dist.name == "norm" else max(x, 0.0)
    value, _ = integrate.quad(lambda t: (t - x) * dist.pdf(t), lo, dist.ppf(1 - 1e-14),
                              limit=200, epsabs=1e-11)
    return value


def cdf(dist, mean, x):
    if dist is None:
        return float(x >= mean)
    return float(dist.cdf(x))


def is_discrete(dist):
    return dist is not None and hasattr(dist, "pmf")


def smallest_level(fill, target, dist, mean, quantity):
    """Smallest level whose fill(level) >= target: integer scan or brentq."""
    if is_discrete(dist):
        level = int(dist.ppf(1e-10)) - int(math.ceil(quantity)) - 2
        while fill(level) < target:
            level += 1
        return float(level)
    scale = dist.std() if dist is not None else 1.0
    lo, hi = mean - 50 * scale - quantity - 1, mean + 50 * scale + 1
    if dist is None:
        lo, hi = mean - quantity - 1, mean + 1
    return optimize.brentq(lambda y: fill(y) - target, lo, hi, xtol=1e-10)


def policy_row(row: dict) -> dict:
    """compute_policies for one row, the slow way (service mode or (R,S) cost mode only)."""
    mu, sigma = row["demand_mean"], row["demand_std"]
    lead, lead_std, review = row["lead_time_mean"], row["lead_time_std"], row["review_period"]
    distribution, policy = row["distribution"], row["policy"]
    lead_dist, lead_mean = interval_distribution(mu, sigma, lead, lead_std, 0.0, distribution)
    per_dist, per_mean = interval_distribution(mu, sigma, lead, lead_std, review, distribution)
    quantity = row["order_quantity_in"]
    if policy in ("RS", "RsS"):
        dist, mean = per_dist, per_mean
    else:
        dist, mean = lead_dist, lead_mean

    def fill_sq(y):
        if quantity <= 0:
            return 1.0
        return min(max(1 - (loss(dist, mean, y) - loss(dist, mean, y + quantity)) / quantity, 0), 1)

    def fill_rs(y):
        per_review = mu * review
        if per_review <= 0:
            return 1.0
        short = loss(per_dist, per_mean, y) - loss(lead_dist, lead_mean, y)
        return min(max(1 - short / per_review, 0.0), 1.0)

    fill = fill_rs if policy == "RS" else fill_sq
    target = row["service_level_target"]
    if math.isnan(target):
        ratio = row["stockout_cost"] / (row["stockout_cost"] + row["holding_cost"] * review)
        ratio = min(max(ratio, 0.5), 1 - 1e-6)
        level = mean if dist is None else float(dist.ppf(ratio))
    elif row["service_level_type"] == "csl":
        level = mean if dist is None else float(dist.ppf(target))
    else:
        level = smallest_level(fill, target, dist, mean, quantity if policy != "RS" else 0.0)
    return {
        "reorder_point": level,
        "order_up_to": level if policy == "RS" else level + quantity,
        "safety_stock": level - mean,
        "expected_csl": cdf(dist, mean, level),
        "expected_fill_rate": fill(level),
    }


def simulate_rs(order_up_to, demand, lead_time, review_period):
    """Fill rate and cycle service level of (R,S) systems with backorders, by Monte Carlo.

    Vectorized over series, a recursion over periods. `order_up_to` `(n_series,)`, `demand`
    `(n_series, n_periods)` draws, integer `lead_time` and `review_period`. Orders are placed at
    the start of periods 0, R, 2R, ... and arrive at the start of period t + L, before that
    period's demand. A cycle ends in the last period before the next review's order arrives; it
    is served if net stock is >= 0 then. Returns (fill, csl), each `(n_series,)`.
    """
    n_series, n_periods = demand.shape
    arrivals = np.zeros((n_series, n_periods + lead_time + 1))
    net = order_up_to.astype(float).copy()
    position = order_up_to.astype(float).copy()
    filled = np.zeros(n_series)
    cycles_ok = np.zeros(n_series)
    cycles = 0
    for t in range(n_periods):
        if t % review_period == 0:
            order = np.maximum(order_up_to - position, 0.0)
            arrivals[:, t + lead_time] += order
            position += order
        net += arrivals[:, t]
        filled += np.minimum(np.maximum(net, 0.0), demand[:, t])
        net -= demand[:, t]
        position -= demand[:, t]
        if (t - lead_time + 1) % review_period == 0 and t >= lead_time + review_period - 1:
            cycles += 1
            cycles_ok += net >= 0
    return filled / demand.sum(axis=1), cycles_ok / cycles


def brute_force_budget(losses, costs, grids, lowers, budget):
    """Best feasible grid point of min sum_i B_i(y_i) s.t. sum_i c_i (y_i - lower_i) <= budget.

    `losses[i]`, `grids[i]`: weighted loss w_i B_i and the levels of item i on its grid.
    Enumerates every combination (tiny instances only). Returns (objective, levels).
    """
    mesh = np.meshgrid(*grids, indexing="ij")
    loss_mesh = np.meshgrid(*losses, indexing="ij")
    spend = sum(c * (m - lo) for c, m, lo in zip(costs, mesh, lowers))
    objective = sum(loss_mesh)
    objective = np.where(spend <= budget + 1e-9, objective, np.inf)
    best = np.unravel_index(np.argmin(objective), objective.shape)
    return float(objective[best]), [float(m[best]) for m in mesh]


def simulate_ss(reorder_point, order_up_to, demand, lead_time):
    """Fill rate and cycle service level of (s,S) systems reviewed every period, with backorders.

    Vectorized over series, a recursion over periods. At the start of each period, when the
    inventory position is <= s, an order for S - position is placed; it arrives at the start of
    period t + L, before that period's demand. A replenishment cycle is served if net stock is
    >= 0 just before its order arrives (net stock only falls between arrivals). Returns
    (fill, csl), each `(n_series,)`.
    """
    n_series, n_periods = demand.shape
    arrivals = np.zeros((n_series, n_periods + lead_time + 1))
    due = np.zeros((n_series, n_periods + lead_time + 1), dtype=bool)
    net = order_up_to.astype(float).copy()
    position = order_up_to.astype(float).copy()
    filled = np.zeros(n_series)
    cycles = np.zeros(n_series)
    cycles_ok = np.zeros(n_series)
    for t in range(n_periods):
        ordering = position <= reorder_point
        order = np.where(ordering, order_up_to - position, 0.0)
        arrivals[:, t + lead_time] += order
        due[:, t + lead_time] |= ordering
        position += order
        if t >= 1:  # net stock at the end of period t - 1, just before this period's arrivals
            counted = due[:, t] & (t > 2 * lead_time)
            cycles += counted
            cycles_ok += counted & (net >= 0)
        net += arrivals[:, t]
        filled += np.minimum(np.maximum(net, 0.0), demand[:, t])
        net -= demand[:, t]
        position -= demand[:, t]
    return filled / demand.sum(axis=1), cycles_ok / cycles
