"""Per-series demand distribution family and demand over the protection interval (lead time + review).

Family choice (per series, from its history and forecast errors), after Silver, Pyke & Thomas
(2017) *Inventory and Production Management in Supply Chains*, 4th ed., §6.7 and §6.11 (normal
for fast movers, Poisson / negative binomial for slow-moving counts) and Syntetos et al. (2012)
"Demand categorisation, forecasting, and inventory control for intermittent demand items"
(gamma for skewed positive demand):

- count-like slow movers (integer history, mean per period <= ``count_mean_max``): ``negbin``
  when Fisher's index-of-dispersion test rejects the Poisson variance (``(n-1) s^2 / mean``
  against chi-square with ``n-1`` degrees of freedom at ``dispersion_test_level``), else ``poisson``;
- otherwise ``normal`` when the coefficient of variation is at most ``normal_cv_max``, else
  ``gamma``; non-count lumpy demand (sizes that are not counts, ADI and CV^2 high) gets
  ``empirical`` (its quantiles are the calibrated empirical ones of the forecast stage).

Demand over the protection interval ``P = L + R`` with a random lead time ``L`` (mean ``E[L]``,
std ``sigma_L``) and review period ``R``, e.g. Silver, Pyke & Thomas (2017) §6.10 (random lead
time), Axsäter (2015) *Inventory Control* 3rd ed. §5.3:

    E[D_P]   = sum of the per-period forecast means over the first P periods (fractional last period)
    Var[D_P] = Var[sum of forecast errors over P periods] + mu^2 * sigma_L^2

which is the textbook ``E[L] sigma^2 + mu^2 sigma_L^2`` generalised to a non-flat forecast path
and to forecast errors that are correlated across steps (the cumulative-error variance is
measured on the backtest instead of assumed to be ``P sigma^2``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

FAMILIES = ("normal", "poisson", "negbin", "gamma", "empirical")


def choose_family(
    history: np.ndarray,
    censored: np.ndarray,
    pattern: np.ndarray,
    count_mean_max: float = 20.0,
    dispersion_test_level: float = 0.01,
    normal_cv_max: float = 0.5,
) -> np.ndarray:
    """Distribution family per series, ``(n,)`` of str, from the uncensored history ``(n, T)``.

    ``pattern`` is the Syntetos-Boylan pattern ``(n,)``. Series without observations get ``normal``.
    """
    demand = np.where(censored, np.nan, history)  # (n, T)
    observed = ~np.isnan(demand)
    count, mean, var = _history_moments(demand)
    with np.errstate(invalid="ignore", divide="ignore"):
        dispersion = np.where(mean > 0, var / mean, np.inf)
        cv = np.where(mean > 0, np.sqrt(var) / mean, np.inf)
    # Fisher's index-of-dispersion test: (n - 1) s^2 / mean ~ chi2(n - 1) under a Poisson law
    with np.errstate(invalid="ignore"):
        overdispersed = stats.chi2.sf((count - 1) * dispersion, np.maximum(count - 1, 1)) < dispersion_test_level
    integer = np.all(~observed | (np.abs(demand - np.round(demand)) < 1e-9), axis=1)
    count_like = integer & (np.nan_to_num(mean, nan=np.inf) <= count_mean_max)
    family = np.where(
        count_like,
        np.where(overdispersed & (dispersion > 1.0), "negbin", "poisson"),
        np.where(pattern == "lumpy", "empirical", np.where(cv <= normal_cv_max, "normal", "gamma")),
    ).astype(object)
    return np.where(count > 0, family, "normal").astype(object)


def history_std(history: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Per-period std of each series' own demand: the sample std of its uncensored history ``(n, T)``.

    The demand's dispersion around its level, as opposed to the forecast error's, which also holds
    the error of the estimated level; the policy uses it as the dispersion floor of a negative
    binomial law (kernels.demand_over_interval). NaN with fewer than two observations.
    """
    _, _, var = _history_moments(np.where(censored, np.nan, history))
    return np.sqrt(var)


def _history_moments(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observation count, mean and sample variance (ddof 1) per row of ``(n, T)``, NaN = missing."""
    count = (~np.isnan(demand)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(demand, axis=1) / np.maximum(count, 1), np.nan)
        var = np.where(count > 1, np.nansum((demand - mean[:, None]) ** 2, axis=1) / np.maximum(count - 1, 1), np.nan)
    return count, mean, var


def protection_interval_demand(
    mean_path: np.ndarray,
    cumulative_error_std: np.ndarray,
    lead_time_mean: np.ndarray,
    lead_time_std: np.ndarray,
    review_period: np.ndarray,
) -> dict[str, np.ndarray]:
    """Demand over ``P = L + R`` periods and its per-period equivalents, each ``(n,)``.

    ``mean_path``: per-period forecast means ``(n, H)``; ``cumulative_error_std``: std of the sum
    of forecast errors over the first ``h`` steps, in units ``(n, H)``. Periods beyond ``H`` are
    extended with the path's average and a cumulative variance growing linearly from step ``H``.
    A non-positive or unknown ``P`` is taken as one period.

    Returns ``lead_time_demand_mean``, ``lead_time_demand_std`` (including lead-time
    variability), ``demand_mean`` (= E[D_P] / P) and ``demand_std`` (= sqrt(Var of the
    cumulative error over P) / sqrt(P): the per-period std that, summed over P independent
    periods, gives the forecast-error part; the lead-time part is left to the policy, which
    knows ``lead_time_std``).
    """
    n_series, horizon = mean_path.shape
    lead = np.nan_to_num(np.asarray(lead_time_mean, dtype=float), nan=0.0)
    review = np.nan_to_num(np.asarray(review_period, dtype=float), nan=0.0)
    lead_std = np.nan_to_num(np.asarray(lead_time_std, dtype=float), nan=0.0)
    periods = lead + review
    periods = np.where(periods > 0, periods, 1.0)  # (n,)

    cum_mean = np.concatenate([np.zeros((n_series, 1)), np.cumsum(mean_path, axis=1)], axis=1)  # (n, H+1)
    cum_var = np.concatenate([np.zeros((n_series, 1)), cumulative_error_std**2], axis=1)  # (n, H+1)
    average = cum_mean[:, -1] / horizon  # (n,)

    whole = np.floor(periods).astype(int)  # (n,)
    fraction = periods - whole
    rows = np.arange(n_series)
    inside = np.minimum(whole, horizon)
    next_step = np.minimum(whole + 1, horizon)
    # mean: whole periods inside the horizon, the fraction of the next one, the tail at the average
    mean_inside = cum_mean[rows, inside] + np.where(whole < horizon, fraction * (cum_mean[rows, next_step] - cum_mean[rows, inside]), 0.0)
    mean_tail = np.where(whole >= horizon, (periods - horizon) * average, 0.0)
    total_mean = mean_inside + mean_tail
    # variance: interpolate the cumulative error variance; beyond H grow linearly
    var_inside = cum_var[rows, inside] + np.where(whole < horizon, fraction * (cum_var[rows, next_step] - cum_var[rows, inside]), 0.0)
    var_total = np.where(whole >= horizon, cum_var[:, -1] * periods / horizon, var_inside)
    rate = total_mean / periods
    total_var = var_total + rate**2 * lead_std**2
    return {
        "lead_time_demand_mean": total_mean,
        "lead_time_demand_std": np.sqrt(total_var),
        "demand_mean": rate,
        "demand_std": np.sqrt(var_total / periods),
    }
