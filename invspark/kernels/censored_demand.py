"""Demand lost to stockouts: imputation of censored periods, vectorized over series.

A period that ends with no stock (``on_hand`` = 0) sold ``s = min(D, stock)``: its sales are a
lower bound of its demand ``D``. Dropping such periods biases every estimate low, because the
periods with the largest demand are the ones that stock out; using ``s`` as demand biases it
more. Each censored period's demand is instead imputed by one draw from the series' demand
distribution given ``D >= s`` (stochastic imputation, which keeps the spread that the conditional
mean would remove: Little & Rubin 2019, *Statistical Analysis with Missing Data*, 3rd ed., §4.3).

Demand is a hurdle (occurrence x size) law, so lumpy and smooth series share one model: demand
occurs with probability ``pi_it``; its size is ``1 + NB`` for count series and gamma for series
with fractional units, of mean ``m_it`` and dispersion ``r_i`` (NB variance ``mu + mu^2 / r``,
gamma ``mu^2 / r``). A stockout with sales ``s > 0`` says demand occurred with a size of at
least ``s``; one with no sales says nothing (the shelf may have been empty all period) and is
drawn from the unconditional law. The draw is ``F^-1(1 - U · P(size >= s))``, ``U`` uniform, kept
below the law's 0.999 quantile unless ``s`` is above it.

``pi_it`` and ``m_it`` are local means over a centred window of ``2 * half_window + 1`` periods
that leave the period itself out, shrunk toward the series' mean as if the window held
``PRIOR_POINTS`` more values at it (credibility weighting: a lumpy series has two or three sizes
per window). ``r_i`` comes from the uncensored, unpromoted sizes' squared deviations from ``m``
(method of moments; the bucket's median where a series has fewer than ``min_points`` sizes). The
means are fitted by EM for censored data (Dempster, Laird & Rubin 1977; for lost sales, Nahmias
1994, "Demand estimation in lost sales inventory systems", Naval Research Logistics 41(6)): start
from the uncensored periods and ``iterations`` times put every stockout with sales at its
expected size ``E[size | size >= s]`` (:func:`conditional_mean`) and re-estimate. Promotion
periods are levelled by the series' promotion lift and lifted back.

The EM has no fixed point when ``r_i`` is far below 1: ``E[size | size >= s]`` then grows faster
than the mean, and every iteration multiplies the level. That happens to a series that stocks out
in most periods it sells in: its uncensored sizes are its smallest ones, their spread around a
mean near 1 gives ``r`` near 0, and a series that never sold more than 3 a week was imputed
100-500. A series whose last EM step is larger than the one before and adds more than
``DIVERGENCE`` of its size mean takes the bucket's median ``r`` instead, and the EM is run again.

Measured against the generator's true demand (4,000 weekly series, 13,010 stockout periods,
seed 42, 2,501 series with stockouts): the mean demand of the stockout periods is 24.4, their
sales 16.4, the imputation 22.7 (smooth 36.3 for 36.8, erratic 45.1 for 49.0, intermittent 5.4
for 5.6, lumpy 19.8 for 22.0), with the 99th percentile 199 for 208; no series' imputed history
mean is more than 3.2 times its true one (15.3 before the divergence rule; 99th percentile 1.28).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

RULES = ("impute", "lower_bound")  # how the forecast treats stockout periods: this module's imputation, or
# the sales as a lower bound (used by a model only where they exceed its forecast, never scored)
PRIOR_POINTS = 4.0  # pseudo-observations of the series' mean in every local window
MAX_SIZE = 1e4  # negative binomial size cap: beyond it the distribution is Poisson to rounding
DIVERGENCE = 0.1  # an EM step that is larger than the one before and adds this share of the size mean diverges


def _window_sums(values: np.ndarray, half_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the values of ``values[:, t - half_window : t + half_window + 1]`` without
    ``values[:, t]`` itself, per cell ``(n, T)``. Leaving the cell out keeps an imputed value
    from raising its own level: with a few sizes per window, that loop runs away."""
    ok = ~np.isnan(values)
    padded = np.pad(np.cumsum(np.where(ok, values, 0.0), axis=1), ((0, 0), (1, 0)))
    counts = np.pad(np.cumsum(ok, axis=1), ((0, 0), (1, 0)))
    T = values.shape[1]
    low = np.clip(np.arange(T) - half_window, 0, T)
    high = np.clip(np.arange(T) + half_window + 1, 0, T)
    total = padded[:, high] - padded[:, low] - np.where(ok, values, 0.0)
    count = counts[:, high] - counts[:, low] - ok
    return total, count


def _series_mean(values: np.ndarray) -> np.ndarray:
    """nanmean per row ``(n,)``, NaN for a row without values (no warning)."""
    count = (~np.isnan(values)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(values, axis=1) / np.maximum(count, 1), np.nan)


def _dispersion(values: np.ndarray, level: np.ndarray, counts: np.ndarray, min_points: int) -> tuple[np.ndarray, float]:
    """Size ``r`` per series ``(n,)`` by moments of ``values`` around ``level`` (``(n, T)``, NaN =
    none): ``mean^2 / (var - mean)`` for the NB (``counts``), ``mean^2 / var`` for the gamma; the
    bucket's median (also returned) for series with fewer than ``min_points`` values."""
    ok = ~np.isnan(values) & ~np.isnan(level)
    points = ok.sum(axis=1)
    mu = np.where(ok, level, 0.0).sum(axis=1) / np.maximum(points, 1)
    var = np.where(ok, (values - level) ** 2, 0.0).sum(axis=1) / np.maximum(points, 1)
    excess = var - np.where(counts, mu, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(excess > 0, mu ** 2 / excess, MAX_SIZE)
    enough = (points >= min_points) & (mu > 0)
    pooled = float(np.clip(np.median(raw[enough]), 0.05, MAX_SIZE)) if enough.any() else 1.0
    return np.clip(np.where(enough, raw, pooled), 0.05, MAX_SIZE), pooled


def _local_mean(values: np.ndarray, half_window: int) -> np.ndarray:
    """Mean of the window's values (:func:`_window_sums`) shrunk toward the series' mean as if
    the window held ``PRIOR_POINTS`` more values at that mean (credibility weighting: a window
    with two sizes of a lumpy series says little), ``(n, T)``; NaN for a series without values."""
    total, count = _window_sums(values, half_window)
    prior = _series_mean(values)[:, None]
    return (total + PRIOR_POINTS * prior) / (count + PRIOR_POINTS)


def _hurdle_means(completed: np.ndarray, half_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Local occurrence probability and size mean, each ``(n, T)``."""
    occurrence = _local_mean(np.where(np.isnan(completed), np.nan, (completed > 0).astype(float)), half_window)
    return occurrence, _local_mean(np.where(completed > 0, completed, np.nan), half_window)


def _tail(bound: np.ndarray, mean: np.ndarray, size: np.ndarray, counts: np.ndarray, shape_shift: float = 0.0) -> np.ndarray:
    """``P(D >= bound)`` under the NB (``counts``) or gamma of ``mean`` and ``size``, elementwise;
    with ``shape_shift`` = 1, ``P(D' >= bound - 1)`` (NB) or ``P(G' >= bound)`` (gamma) for the law
    of size ``size + 1`` and the same ``p`` / scale (the partial-expectation identity)."""
    p = size / (size + mean)
    nb = stats.nbinom.sf(np.ceil(bound) - 1.0 - shape_shift, size + shape_shift, p)
    gamma = stats.gamma.sf(bound, size + shape_shift, scale=mean / size)
    return np.where(counts, nb, gamma)


def conditional_mean(bound: np.ndarray, mean: np.ndarray, size: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``E[D | D >= bound]`` elementwise for the NB (``counts``) or gamma of ``mean`` and ``size``:
    ``mean * P(D' >= bound - 1) / P(D >= bound)`` (NB), ``mean * P(G' >= bound) / P(G >= bound)``
    (gamma), from ``d f_r(d) = mean f_{r+1}(d - 1)`` and ``x f_k(x) = mean f_{k+1}(x)``."""
    mean = np.maximum(mean, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = _tail(bound, mean, size, counts, 1.0) / _tail(bound, mean, size, counts)
    return np.where(np.isfinite(ratio) & (ratio > 0), np.maximum(mean * ratio, bound), bound)


def truncated_draw(bound: np.ndarray, mean: np.ndarray, size: np.ndarray, counts: np.ndarray,
                   uniform: np.ndarray, top: float = 1e-3) -> np.ndarray:
    """``F^-1(1 - U · P(D >= bound))``: a draw of ``D`` given ``D >= bound``, elementwise, and not
    above the ``1 - top`` quantile of ``D`` unless ``bound`` is (then ``bound``): one draw from
    the far tail of a series with a few sizes would otherwise become its largest demand ever."""
    mean = np.maximum(mean, 1e-9)
    tail = _tail(bound, mean, size, counts)
    q = np.maximum(uniform * tail, np.minimum(tail, top))
    nb = stats.nbinom.isf(q, size, size / (size + mean))
    gamma = stats.gamma.isf(q, size, scale=mean / size)
    draw = np.where(counts, nb, gamma)
    return np.where(np.isfinite(draw) & (tail > 0), np.maximum(draw, bound), bound)


def impute_censored(
    units: np.ndarray,
    censored: np.ndarray,
    promo_lift: np.ndarray | None = None,
    promo: np.ndarray | None = None,
    half_window: int = 6,
    iterations: int = 3,
    min_points: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """``units`` ``(n, T)`` with each censored period's demand imputed (module docstring).

    ``units``: sales, ``NaN`` = missing; ``censored``: same shape, bool (a ``NaN`` period is
    never censored). ``promo_lift`` ``(n,)`` and ``promo`` ``(n, T)``: the series' multiplicative
    promotion lift and promotion flags (``None``: no promotions). A series that never sold in an
    uncensored period keeps its sales (nothing to impute from). Deterministic for a given ``seed``.
    """
    units = np.asarray(units, dtype=float)
    stockout = np.asarray(censored, dtype=bool) & ~np.isnan(units)
    if not stockout.any():
        return units.copy()
    lift = np.ones(units.shape) if promo_lift is None else np.where(
        np.nan_to_num(promo, nan=0.0) > 0, np.asarray(promo_lift, dtype=float)[:, None], 1.0)
    integral = np.where(np.isnan(units), True, units == np.round(units)).all(axis=1)  # (n,)
    shift = integral.astype(float)  # count sizes are 1 + NB, fractional sizes gamma
    uncensored = np.where(stockout, np.nan, units / lift)  # levelled demand observations
    occurrence, size_mean = _hurdle_means(uncensored, half_window)  # size_mean NaN: the series never sold
    rows, cols = np.nonzero(stockout & ~np.isnan(size_mean))
    bound, cell_lift, counts, cell_shift = units[rows, cols], lift[rows, cols], integral[rows], shift[rows]
    sold = bound > 0  # a stockout with sales: demand occurred, its size is at least the sales
    size_bound = np.maximum(bound, cell_shift) / cell_lift - cell_shift  # levelled, as 1 + NB or gamma

    # sizes for the dispersion: unpromoted periods only (a levelled promoted count, sales / lift, is no
    # whole number, and below 1 no 1 + NB size at all)
    sizes = np.where((uncensored > 0) & (lift == 1.0), uncensored, np.nan) - shift[:, None]
    dispersion, pooled = _dispersion(sizes, size_mean - shift[:, None], integral, min_points)

    uncensored_means = occurrence, size_mean

    def expectation_maximization(dispersion):
        """The EM from the uncensored periods: a censored period with sales at its expected size,
        one without as missing. Returns the final hurdle means and the series whose steps grew."""
        occurrence, size_mean = uncensored_means
        path = [_series_mean(size_mean)]
        for _ in range(iterations):
            expected = cell_shift + conditional_mean(size_bound, size_mean[rows, cols] - cell_shift, dispersion[rows], counts)
            completed = uncensored.copy()
            completed[rows[sold], cols[sold]] = expected[sold]
            occurrence, size_mean = _hurdle_means(completed, half_window)
            path.append(_series_mean(size_mean))
        if iterations < 2:
            return occurrence, size_mean, np.zeros(units.shape[0], dtype=bool)
        steps = np.diff(np.nan_to_num(np.stack(path[-3:])), axis=0)  # the last two steps, (2, n)
        return occurrence, size_mean, (steps[-1] > steps[-2]) & (steps[-1] > DIVERGENCE * np.nan_to_num(path[-2]))

    occurrence, size_mean, diverging = expectation_maximization(dispersion)
    if diverging.any():  # no fixed point under the series' own dispersion: the bucket's, and again
        dispersion = np.where(diverging, pooled, dispersion)
        occurrence, size_mean, _ = expectation_maximization(dispersion)

    rng = np.random.default_rng(seed)
    size = cell_shift + truncated_draw(size_bound, size_mean[rows, cols] - cell_shift, dispersion[rows], counts,
                                       rng.random(rows.size))
    occurs = sold | (rng.random(rows.size) < occurrence[rows, cols])
    imputed = units.copy()
    size = np.where(counts, np.round(size * cell_lift), size * cell_lift)
    imputed[rows, cols] = np.where(occurs, np.maximum(size, bound), 0.0)
    return imputed
