"""Allocation of scarce DC stock to stores: marginal-value greedy and proportional fair share.

Every function works on flat per-store vectors of shape ``(n_rows,)`` (one row per
sku x DC x store) plus an integer ``group`` code per row (one group per sku x DC), and is
vectorized across all groups at once: no Python loop per SKU or per group.

Model
-----
Store ``i`` holds ``on_hand_i`` and faces demand ``D_i`` over the allocation horizon. Given
``q_i`` more units it sells ``min(D_i, on_hand_i + q_i)`` (lost sales, demand truncated at zero).
With ``A`` units at the DC and unit margin ``m_i`` the allocation problem is

    maximize  sum_i m_i E[min(D_i, on_hand_i + q_i)]
    s.t.      sum_i q_i <= A,  q_i in {0, c, 2c, ..., r_i}   (c = case pack, r_i = requested)

``E[min(D, x)]`` is concave in ``x``, so the value of the ``k``-th case at a store,
``m (E[min(D, y + c)] - E[min(D, y)])`` with ``y = on_hand + (k-1) c``, is non-increasing in
``k``. With one case pack per group every case weighs the same, so the greedy rule (take the
globally most valuable cases of the group while stock lasts) is optimal: it is the classical
marginal-allocation argument for separable concave objectives under one budget (Fox 1966,
"Discrete optimization via marginal analysis", Management Science 13(3), 210-216).

For integer-valued demand (Poisson, negative binomial) and integer stock ``y``,
``E[min(D, y + 1)] - E[min(D, y)] = P(D > y)``, so a unit's value is exactly
``m P(D > on_hand + k - 1)`` (scipy ``sf``) and a case's value is the sum over its units. For
continuous demand (normal, gamma) the same difference is ``m * integral_y^{y+1} P(D > t) dt``,
the exact gain in expected units sold (``P(D > y)`` alone would overstate it).

Limited expectation ``E[min(D^+, x)] = integral_0^x P(D > t) dt`` for ``x >= 0``, i.e. ``E[D^+]``
minus the first-order loss function (Snyder & Shen 2019, "Fundamentals of Supply Chain Theory",
2nd ed., appendix on loss functions; Zipkin 2000, "Foundations of Inventory Management"):

- normal(mu, sigma): ``sigma (L(-mu/sigma) - L((x - mu)/sigma))`` with the standard normal loss
  ``L(z) = phi(z) - z (1 - Phi(z))`` (demand below zero is no sale);
- Poisson(lambda): ``lambda F(x - 1) + x (1 - F(x))`` (uses ``k p(k) = lambda p(k - 1)``);
- negative binomial(n, p), mean ``mu``: ``mu F_{n+1,p}(x - 1) + x (1 - F_{n,p}(x))``
  (uses ``k p_{n,p}(k) = mu p_{n+1,p}(k - 1)``);
- gamma(shape a, scale theta): ``a theta G_{a+1}(x) + x (1 - G_a(x))``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

DISTRIBUTIONS = ("normal", "poisson", "negbin", "gamma")
NORMAL, POISSON, NEGBIN, GAMMA = range(4)


def _negbin_parameters(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy ``nbinom(n, p)`` from mean and std (needs ``var > mean``): ``n = mu^2/(var-mu)``, ``p = mu/var``."""
    var = std**2
    with np.errstate(divide="ignore", invalid="ignore"):
        n = mean**2 / (var - mean)
        p = mean / var
    return n, p


def effective_distribution(mean: np.ndarray, std: np.ndarray, distribution: np.ndarray) -> np.ndarray:
    """Distribution code actually used, ``(n,)``.

    Degenerate cases are made explicit instead of producing NaN: zero mean or (normal, gamma)
    zero std means deterministic demand (code -2); a negative binomial whose variance does not
    exceed its mean (no over-dispersion) falls back to Poisson with the same mean.
    """
    code = distribution.copy()
    code[(code == NEGBIN) & (std**2 <= mean)] = POISSON
    deterministic = (mean <= 0) | (((code == NORMAL) | (code == GAMMA)) & (std <= 0))
    code[deterministic] = -2
    return code


def expected_sales(stock: np.ndarray, mean: np.ndarray, std: np.ndarray, code: np.ndarray) -> np.ndarray:
    """``E[min(D^+, stock)]`` per row, all arguments ``(n,)``; ``code`` from :func:`effective_distribution`.

    Formulas in the module docstring. ``stock`` must be ``>= 0``.
    """
    stock = np.asarray(stock, dtype=np.float64)
    out = np.empty(stock.shape, dtype=np.float64)
    rows = code == -2
    out[rows] = np.minimum(np.maximum(mean[rows], 0.0), stock[rows])
    rows = code == NORMAL
    if rows.any():
        mu, sigma, x = mean[rows], std[rows], stock[rows]
        out[rows] = sigma * (_normal_loss(-mu / sigma) - _normal_loss((x - mu) / sigma))
    rows = code == POISSON
    if rows.any():
        mu, x = mean[rows], stock[rows]
        out[rows] = mu * stats.poisson.cdf(x - 1.0, mu) + x * stats.poisson.sf(x, mu)
    rows = code == NEGBIN
    if rows.any():
        mu, x = mean[rows], stock[rows]
        n, p = _negbin_parameters(mu, std[rows])
        out[rows] = mu * stats.nbinom.cdf(x - 1.0, n + 1.0, p) + x * stats.nbinom.sf(x, n, p)
    rows = code == GAMMA
    if rows.any():
        mu, sigma, x = mean[rows], std[rows], stock[rows]
        shape, scale = (mu / sigma) ** 2, sigma**2 / mu
        out[rows] = mu * stats.gamma.cdf(x, shape + 1.0, scale=scale) + x * stats.gamma.sf(x, shape, scale=scale)
    return out


def _normal_loss(z: np.ndarray) -> np.ndarray:
    """Standard normal first-order loss ``L(z) = E[(Z - z)^+] = phi(z) - z (1 - Phi(z))``."""
    return stats.norm.pdf(z) - z * stats.norm.sf(z)


def demand_quantile(probability: float, mean: np.ndarray, std: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Smallest ``y >= 0`` with ``P(D <= y) >= probability`` per row, ``(n,)``.

    Continuous laws: scipy ``ppf`` (normal quantiles below zero clipped to 0). Integer laws: the
    same answer as scipy's ``ppf`` (the smallest integer ``k`` with ``cdf(k) >= probability``),
    found by :func:`_smallest_integer_with_cdf_at_least` from a Cornish-Fisher guess with a few
    vectorized scipy ``cdf`` calls, which is several times faster than ``poisson.ppf`` /
    ``nbinom.ppf`` on large arrays.
    """
    out = np.empty(mean.shape, dtype=np.float64)
    rows = code == -2
    out[rows] = np.maximum(mean[rows], 0.0)
    rows = code == NORMAL
    out[rows] = np.maximum(stats.norm.ppf(probability, mean[rows], std[rows]), 0.0)
    z = stats.norm.ppf(probability)
    rows = code == POISSON
    if rows.any():
        mu = mean[rows]
        guess = mu + np.sqrt(mu) * (z + (z**2 - 1.0) / (6.0 * np.sqrt(mu)))  # Cornish-Fisher, skew 1/sqrt(mu)
        out[rows] = _smallest_integer_with_cdf_at_least(
            probability, lambda k, idx: stats.poisson.cdf(k, mu[idx]), guess
        )
    rows = code == NEGBIN
    if rows.any():
        n, p = _negbin_parameters(mean[rows], std[rows])
        skew = (2.0 - p) / np.sqrt(n * (1.0 - p))
        guess = mean[rows] + std[rows] * (z + (z**2 - 1.0) * skew / 6.0)
        out[rows] = _smallest_integer_with_cdf_at_least(
            probability, lambda k, idx: stats.nbinom.cdf(k, n[idx], p[idx]), guess
        )
    rows = code == GAMMA
    if rows.any():
        mu, sigma = mean[rows], std[rows]
        out[rows] = stats.gamma.ppf(probability, (mu / sigma) ** 2, scale=sigma**2 / mu)
    return out


def _smallest_integer_with_cdf_at_least(probability: float, cdf, guess: np.ndarray) -> np.ndarray:
    """Smallest integer ``k >= 0`` with ``cdf(k, rows) >= probability`` for every row, ``(n,)``.

    ``cdf(k, rows)`` evaluates the rows' cdfs at ``k`` (both ``(m,)``, ``rows`` indexes into the
    full set). Keeps ``cdf(low) < probability <= cdf(high)`` (``low = -1`` stands for minus
    infinity): from the guess it widens the bracket by doubling steps, then bisects. The loops
    run over search steps (about ``log2`` of the guess error), never over rows.
    """
    size = guess.shape[0]
    start = np.maximum(np.round(np.nan_to_num(guess, nan=0.0, posinf=0.0)), 0.0)
    covered = cdf(start, np.arange(size)) >= probability
    low = np.where(covered, start - 1.0, start)
    high = np.where(covered, start, start + 1.0)
    step = np.ones(size)
    pending = np.flatnonzero(covered & (low >= 0))
    while pending.size:  # move low down until cdf(low) < probability or low < 0
        still = cdf(low[pending], pending) >= probability
        pending = pending[still]
        high[pending] = low[pending]
        step[pending] *= 2.0
        low[pending] = high[pending] - step[pending]
        pending = pending[low[pending] >= 0]
    low = np.maximum(low, -1.0)
    pending = np.flatnonzero(~covered)
    while pending.size:  # move high up until cdf(high) >= probability
        short = cdf(high[pending], pending) < probability
        pending = pending[short]
        low[pending] = high[pending]
        step[pending] *= 2.0
        high[pending] = low[pending] + step[pending]
    pending = np.flatnonzero(high - low > 1.0)
    while pending.size:  # bisect the bracket
        middle = np.floor((low[pending] + high[pending]) / 2.0)
        enough = cdf(middle, pending) >= probability
        high[pending[enough]] = middle[enough]
        low[pending[~enough]] = middle[~enough]
        pending = pending[high[pending] - low[pending] > 1.0]
    return high


def case_multiple_up(units: np.ndarray, case_pack: np.ndarray) -> np.ndarray:
    """Smallest multiple of ``case_pack`` that is ``>= units`` (``units`` clipped at 0), ``(n,)``."""
    return np.ceil(np.maximum(units, 0.0) / case_pack - 1e-9) * case_pack


def case_multiple_down(units: np.ndarray, case_pack: np.ndarray) -> np.ndarray:
    """Largest multiple of ``case_pack`` that is ``<= units`` (``units`` clipped at 0), ``(n,)``."""
    return np.floor(np.maximum(units, 0.0) / case_pack + 1e-9) * case_pack


def requested_units(
    stockout_probability: float,
    mean: np.ndarray,
    std: np.ndarray,
    code: np.ndarray,
    on_hand: np.ndarray,
    case_pack: np.ndarray,
    capacity_units: np.ndarray,
    given_request: np.ndarray,
) -> np.ndarray:
    """What each store asks for, in whole cases, ``(n,)``.

    Where ``given_request`` is not NaN (e.g. the policy's order-up-to level minus on hand) it is
    used; elsewhere the request is the smallest ``q`` with ``P(D > on_hand + q) <=
    stockout_probability``, i.e. ``q = F^{-1}(1 - stockout_probability) - on_hand`` (a cycle
    service level of ``1 - stockout_probability`` over the allocation horizon). Either way it is rounded up to a
    whole case and capped at the largest case multiple that fits ``capacity_units - on_hand``
    (NaN capacity = no cap).
    """
    target = demand_quantile(1.0 - stockout_probability, mean, std, code)
    need = np.where(np.isnan(given_request), target - on_hand, given_request)
    request = case_multiple_up(need, case_pack)
    room = np.where(np.isnan(capacity_units), np.inf, case_multiple_down(capacity_units - on_hand, case_pack))
    return np.minimum(request, room)


def case_values(
    stock_before: np.ndarray,
    case_pack: np.ndarray,
    unit_margin: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    code: np.ndarray,
) -> np.ndarray:
    """Expected margin of one more case on top of ``stock_before``, ``(n,)``:
    ``m (E[min(D, y + c)] - E[min(D, y)])``; for integer demand and integer ``y`` this is
    ``m sum_{u=0}^{c-1} P(D > y + u)``."""
    gain = expected_sales(stock_before + case_pack, mean, std, code) - expected_sales(stock_before, mean, std, code)
    return unit_margin * np.maximum(gain, 0.0)


def _group_starts(group_sorted: np.ndarray) -> np.ndarray:
    """Index of the first element of each element's run in a sorted int vector, ``(n,)``."""
    n = group_sorted.shape[0]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = group_sorted[1:] != group_sorted[:-1]
    run_start = np.flatnonzero(new_run)
    return run_start[np.cumsum(new_run) - 1]


def allocate_marginal_value(
    group: np.ndarray,
    available_cases: np.ndarray,
    requested_cases: np.ndarray,
    on_hand: np.ndarray,
    case_pack: np.ndarray,
    unit_margin: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    code: np.ndarray,
    max_candidates: int = 4_000_000,
) -> np.ndarray:
    """Cases allocated per row by greedy marginal value, ``(n_rows,)`` int64.

    ``group`` ``(n_rows,)`` must be sorted ascending (rows of a sku x DC contiguous);
    ``available_cases`` ``(n_groups,)`` whole cases at each group's DC; ``case_pack`` is
    constant within a group. Groups whose requests fit get their requests; in short groups every
    requested case of every store (up to the group's available cases) becomes a candidate
    ``(n_candidates,)`` whose value comes from ``E[min(D, on_hand + k c)]`` evaluated once at each
    case boundary ``k``; the
    candidates are sorted by ``(group, -value, row, case index)`` and each group keeps its first
    ``available_cases`` candidates. Ties are broken by row order, then case order, so the taken
    cases of a store are always its first ones. Short groups are processed in batches of about
    ``max_candidates`` candidates to bound memory (a fixed batch size, not a loop per group).
    """
    n_groups = available_cases.shape[0]
    requested_cases = requested_cases.astype(np.int64)
    requested_per_group = np.bincount(group, weights=requested_cases, minlength=n_groups)
    short_group = requested_per_group > available_cases
    allocated = np.where(short_group[group], 0, requested_cases)
    short_rows = np.flatnonzero(short_group[group] & (requested_cases > 0))
    if short_rows.size == 0:
        return allocated
    # A store can never take more cases than its group has, so its candidates stop there.
    candidates = np.minimum(requested_cases, available_cases[group])  # (n_rows,)
    # Batch boundaries at group boundaries: cumulative boundary points of the short rows.
    cumulative = np.cumsum(candidates[short_rows] + 1)
    batch_of_row = (cumulative - 1) // max_candidates
    group_of_row = group[short_rows]
    # Every row of a group joins the batch of the group's first row.
    first_in_group = _group_starts(group_of_row)
    batch_of_row = batch_of_row[first_in_group]
    for batch in np.unique(batch_of_row):  # a handful of fixed-size batches, never one per group
        rows = short_rows[batch_of_row == batch]
        n_cases = candidates[rows]
        # E[min(D, on_hand + k c)] at the case boundaries k = 0 .. n_cases of every store, once
        n_points = n_cases + 1
        row_of_point = np.repeat(rows, n_points)  # (n_points_total,)
        point_index = np.arange(row_of_point.size) - np.repeat(np.cumsum(n_points) - n_points, n_points)
        sales = expected_sales(
            on_hand[row_of_point] + point_index * case_pack[row_of_point],
            mean[row_of_point],
            std[row_of_point],
            code[row_of_point],
        )
        opens_case = point_index < np.repeat(n_cases, n_points)  # boundary k opens case k+1
        first = np.flatnonzero(opens_case)
        row_of_case = row_of_point[first]  # (n_candidates,)
        case_index = point_index[first]
        value = unit_margin[row_of_case] * np.maximum(sales[first + 1] - sales[first], 0.0)
        group_of_case = group[row_of_case]
        order = np.lexsort((case_index, row_of_case, -value, group_of_case))
        sorted_group = group_of_case[order]
        rank_in_group = np.arange(order.size) - _group_starts(sorted_group)
        taken = rank_in_group < available_cases[sorted_group]
        allocated += np.bincount(row_of_case[order][taken], minlength=allocated.size)
    return allocated


def allocate_fair_share(group: np.ndarray, available_cases: np.ndarray, requested_cases: np.ndarray) -> np.ndarray:
    """Cases per row under the common proportional rule, ``(n_rows,)`` int64.

    Groups whose requests fit get them. In a short group with ``A`` whole cases and requests
    ``r_i``, store ``i`` gets ``floor(A r_i / sum r)`` cases and the cases left over go one each
    to the stores with the largest fractional remainders (Hamilton's largest-remainder rounding;
    ties to the earlier row). Each store gets at most its request, so capacity caps hold.
    """
    n_rows = requested_cases.shape[0]
    n_groups = available_cases.shape[0]
    requested_cases = requested_cases.astype(np.int64)
    total = np.bincount(group, weights=requested_cases, minlength=n_groups)
    short = total > available_cases
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(short[group], available_cases[group] * requested_cases / total[group], requested_cases)
    base = np.floor(exact + 1e-9).astype(np.int64)
    remainder = np.where(short[group], exact - base, 0.0)
    left_over = available_cases - np.bincount(group, weights=base, minlength=n_groups).astype(np.int64)
    order = np.lexsort((np.arange(n_rows), -remainder, group))
    sorted_group = group[order]
    rank_in_group = np.arange(n_rows) - _group_starts(sorted_group)
    extra = short[sorted_group] & (rank_in_group < left_over[sorted_group]) & (remainder[order] > 0)
    base[order[extra]] += 1
    return base
