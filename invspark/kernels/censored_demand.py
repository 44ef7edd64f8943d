"""Demand lost to stockouts: imputation of censored periods, vectorized over series.

A period that ends with no stock (``on_hand`` = 0) sold ``s = min(D, stock)``: its sales are a
lower bound of its demand ``D``. Dropping such periods biases every estimate low, because the
periods with the largest demand are the ones that stock out; using ``s`` as demand biases it
more. Each censored period's demand is instead imputed by one draw from the series' demand
distribution truncated below at ``s`` (stochastic imputation, which keeps the spread that the
conditional mean would remove: Little & Rubin 2019, *Statistical Analysis with Missing Data*,
3rd ed., §4.3 and ch. 6):

    D_imp = F^-1(1 - U · P(D >= s)),   U ~ Uniform(0, 1),

with ``F`` the negative binomial of mean ``mu_it`` and size ``r_i`` (variance
``mu + mu^2 / r``) for count series, the gamma of the same mean and variance ``mu^2 / r`` for
series with fractional units.

``mu_it`` is the series' local level, the mean demand over a centred window of
``2 * half_window + 1`` periods, and ``r_i`` its size, from the squared deviations from that
level (method of moments; the bucket's median where a series has fewer than ``min_points``
periods). Both are fitted by stochastic EM (Celeux & Diebolt 1985, "The SEM algorithm",
Computational Statistics Quarterly 2; for lost sales, Nahmias 1994, "Demand estimation in lost
sales inventory systems", Naval Research Logistics 41(6)): start from the uncensored periods,
then ``iterations`` times draw every censored period as above and re-estimate ``mu`` and ``r`` on
the completed series. The size never falls below half its uncensored estimate: a heavy draw
that inflates the variance makes the next draws heavier, the one unstable loop of the method.
Promotion periods are levelled by the series' promotion lift and lifted back.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

RULES = ("impute", "lower_bound")  # how the forecast treats stockout periods: this module's imputation, or
# the sales as a lower bound (used by a model only where they exceed its forecast, never scored)
MAX_SIZE = 1e4  # negative binomial size cap: beyond it the distribution is Poisson to rounding


def _window_mean(values: np.ndarray, half_window: int) -> np.ndarray:
    """nanmean of ``values[:, t - half_window : t + half_window + 1]`` per cell ``(n, T)`` (NaN when empty)."""
    ok = ~np.isnan(values)
    padded = np.pad(np.cumsum(np.where(ok, values, 0.0), axis=1), ((0, 0), (1, 0)))
    counts = np.pad(np.cumsum(ok, axis=1), ((0, 0), (1, 0)))
    T = values.shape[1]
    low = np.clip(np.arange(T) - half_window, 0, T)
    high = np.clip(np.arange(T) + half_window + 1, 0, T)
    total = padded[:, high] - padded[:, low]
    count = counts[:, high] - counts[:, low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _series_mean(values: np.ndarray) -> np.ndarray:
    """nanmean per row ``(n,)``, NaN for a row without values (no warning)."""
    count = (~np.isnan(values)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(values, axis=1) / np.maximum(count, 1), np.nan)


def _dispersion(values: np.ndarray, level: np.ndarray, counts: np.ndarray, min_points: int) -> np.ndarray:
    """Size ``r`` per series ``(n,)`` by moments of ``values`` around ``level`` (``(n, T)``, NaN =
    none): ``mean^2 / (var - mean)`` for the NB (``counts``), ``mean^2 / var`` for the gamma; the
    bucket's median for series with fewer than ``min_points`` values."""
    ok = ~np.isnan(values) & ~np.isnan(level)
    points = ok.sum(axis=1)
    mu = np.where(ok, level, 0.0).sum(axis=1) / np.maximum(points, 1)
    var = np.where(ok, (values - level) ** 2, 0.0).sum(axis=1) / np.maximum(points, 1)
    excess = var - np.where(counts, mu, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(excess > 0, mu ** 2 / excess, MAX_SIZE)
    enough = (points >= min_points) & (mu > 0)
    pooled = float(np.median(raw[enough])) if enough.any() else 1.0
    return np.clip(np.where(enough, raw, pooled), 0.05, MAX_SIZE)


def _local_mean(values: np.ndarray, half_window: int) -> np.ndarray:
    """:func:`_window_mean`, else the series' mean where the window holds no value."""
    level = _window_mean(values, half_window)
    return np.where(np.isnan(level), _series_mean(values)[:, None], level)


def _hurdle_fit(completed: np.ndarray, shift: np.ndarray, half_window: int, min_points: int):
    """Local occurrence probability and size mean ``(n, T)`` and the size dispersion ``(n,)``."""
    occurrence = _local_mean(np.where(np.isnan(completed), np.nan, (completed > 0).astype(float)), half_window)
    sizes = np.where(completed > 0, completed, np.nan)
    size_mean = _local_mean(sizes, half_window)
    dispersion = _dispersion(sizes - shift[:, None], size_mean - shift[:, None], shift > 0, min_points)
    return occurrence, size_mean, dispersion


def _tail(bound: np.ndarray, mean: np.ndarray, size: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``P(D >= bound)`` under the NB (``counts``) or gamma of ``mean`` and ``size``, elementwise."""
    nb = stats.nbinom.sf(np.ceil(bound) - 1.0, size, size / (size + mean))
    gamma = stats.gamma.sf(bound, size, scale=mean / size)
    return np.where(counts, nb, gamma)


def truncated_draw(bound: np.ndarray, mean: np.ndarray, size: np.ndarray, counts: np.ndarray,
                   uniform: np.ndarray) -> np.ndarray:
    """``F^-1(1 - U · P(D >= bound))``: a draw of ``D`` given ``D >= bound``, elementwise."""
    mean = np.maximum(mean, 1e-9)
    tail = _tail(bound, mean, size, counts)
    q = uniform * tail
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
    occurrence, size_mean, dispersion = _hurdle_fit(uncensored, shift, half_window, min_points)
    floor = dispersion / 2

    rows, cols = np.nonzero(stockout & ~np.isnan(size_mean))
    bound, cell_lift, counts, cell_shift = units[rows, cols], lift[rows, cols], integral[rows], shift[rows]
    rng = np.random.default_rng(seed)

    def draw() -> np.ndarray:
        size = cell_shift + truncated_draw(np.maximum(bound, cell_shift) - cell_shift, size_mean[rows, cols] * cell_lift - cell_shift,
                                           dispersion[rows], counts, rng.random(rows.size))
        occurs = (bound > 0) | (rng.random(rows.size) < occurrence[rows, cols])
        return np.where(occurs, size, 0.0)

    imputed = units.copy()
    for _ in range(iterations):  # stochastic EM: draw, then re-fit on the completed series
        imputed[rows, cols] = draw()
        occurrence, size_mean, dispersion = _hurdle_fit(imputed / lift, shift, half_window, min_points)
        dispersion = np.maximum(dispersion, floor)
    imputed[rows, cols] = draw()
    return imputed
