"""Obvious per-series loop versions of invspark.kernels.forecast_models, for the tests only.

Each ``*_series`` function takes one series ``y`` ``(n_periods,)`` (NaN = missing),
``censored`` ``(n_periods,)`` bool and returns ``(mean (horizon,), fitted (n_periods,))``,
written as plain scalar loops following the documented rules:

- missing periods leave the state unchanged;
- a censored observation is used only if it exceeds the current forecast of the quantity it
  updates, or if no forecast exists yet.

:func:`panel` applies one of them to every row of a matrix.
"""

from __future__ import annotations

import math

import numpy as np

NAN = float("nan")


def panel(function, y, censored, horizon, season_length, **params):
    """Apply a per-series reference to each row: returns (mean (n, h), fitted (n, T))."""
    means, fitteds = [], []
    for row in range(y.shape[0]):
        mean, fitted = function(y[row], censored[row], horizon, season_length, **params)
        means.append(mean)
        fitteds.append(fitted)
    return np.array(means, dtype=float), np.array(fitteds, dtype=float)


def _is_missing(value):
    return math.isnan(value)


# --------------------------------------------------------------------------------- naive family


def naive_series(y, censored, horizon, season_length):
    last = NAN
    fitted = []
    for value, cens in zip(y, censored):
        fitted.append(last)
        if _is_missing(value):
            continue
        if cens and not math.isnan(last) and value <= last:
            continue
        last = value
    return [last] * horizon, fitted


def seasonal_naive_series(y, censored, horizon, season_length):
    n = len(y)
    naive_mean, naive_fitted = naive_series(y, censored, horizon, season_length)
    observed = [i for i in range(n) if not _is_missing(y[i])]
    if not observed or n - observed[0] < 2 * season_length:
        return naive_mean, naive_fitted
    slots = {}
    fitted = []
    for t in range(n):
        position = (t - n) % season_length
        slot = slots.get(position, NAN)
        fitted.append(slot if not math.isnan(slot) else naive_fitted[t])
        if _is_missing(y[t]):
            continue
        if censored[t] and not math.isnan(slot) and y[t] <= slot:
            continue
        slots[position] = y[t]
    mean = []
    for h in range(horizon):
        slot = slots.get(h % season_length, NAN)
        mean.append(slot if not math.isnan(slot) else naive_mean[0])
    return mean, fitted


def historic_average_series(y, censored, horizon, season_length):
    used = []
    fitted = []
    for value, cens in zip(y, censored):
        average = sum(used) / len(used) if used else NAN
        fitted.append(average)
        if _is_missing(value):
            continue
        if cens and used and value <= average:
            continue
        used.append(value)
    average = sum(used) / len(used) if used else NAN
    return [average] * horizon, fitted


def moving_average_series(y, censored, horizon, season_length, window_size=None):
    window = min(season_length, 13) if window_size is None else window_size
    used = []
    fitted = []
    for value, cens in zip(y, censored):
        average = float(np.mean(used[-window:])) if used else NAN
        fitted.append(average)
        if _is_missing(value):
            continue
        if cens and used and value <= average:
            continue
        used.append(value)
    average = float(np.mean(used[-window:])) if used else NAN
    return [average] * horizon, fitted


# ------------------------------------------------------------------------ exponential smoothing


def ses_fixed_series(y, censored, alpha):
    """(level, fitted, sse) of SES with level = first observation, error-correction update."""
    level = NAN
    fitted = []
    sse = 0.0
    started = False
    for value, cens in zip(y, censored):
        fitted.append(level if started else NAN)
        if _is_missing(value):
            continue
        if not started:
            level = value
            started = True
            fitted[-1] = NAN
            continue
        error = value - level
        if cens and error <= 0.0:
            continue
        level = level + alpha * error
        sse += error * error
    return level, fitted, sse


def golden_section_series(y, censored, lower, upper, tolerance=1e-8):
    """statsforecast's golden_section_ses on one series, with the kernels' tolerance."""
    ratio = (math.sqrt(5.0) + 1.0) / 2.0
    a, b = lower, upper
    c = b - (b - a) / ratio
    d = a + (b - a) / ratio
    fc = ses_fixed_series(y, censored, c)[2]
    fd = ses_fixed_series(y, censored, d)[2]
    while abs(b - a) >= tolerance:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - (b - a) / ratio
            fc = ses_fixed_series(y, censored, c)[2]
        elif fd < fc:
            a, c, fc = c, d, fd
            d = a + (b - a) / ratio
            fd = ses_fixed_series(y, censored, d)[2]
        else:
            break
    return (a + b) / 2.0


def ses_series(y, censored, horizon, season_length, alpha=None):
    if alpha is None:
        alpha = golden_section_series(y, censored, 0.01, 0.99)
    level, fitted, _ = ses_fixed_series(y, censored, alpha)
    return [level] * horizon, fitted


def holt_fixed_series(y, censored, alpha, beta, phi):
    """(level, trend, fitted, sse) of additive damped-trend Holt, l = first value, b = 0.

    A missing or unused censored period applies the transition only: l += phi b, b = phi b.
    """
    level, trend = NAN, 0.0
    started = False
    fitted = []
    sse = 0.0
    for value, cens in zip(y, censored):
        damped = phi * trend
        forecast = level + damped
        fitted.append(forecast if started else NAN)
        if not started:
            if not _is_missing(value):
                level, started = value, True
            continue
        error = 0.0 if _is_missing(value) else value - forecast
        if cens and error <= 0.0:
            error = 0.0
        level = forecast + alpha * error
        trend = (alpha * beta) * error + damped
        sse += error * error
    return level, trend, fitted, sse


def holt_grid():
    """The kernels' 35 (alpha, beta, phi) candidates in their order (beta = 0 once per alpha)."""
    grid = []
    for alpha in (0.05, 0.1, 0.2, 0.3, 0.5):
        grid.append((alpha, 0.0, 0.8))
        for beta in (0.02, 0.1):
            for phi in (0.8, 0.9, 0.98):
                grid.append((alpha, beta, phi))
    return grid


def _holt_fit_series(y, censored):
    best, best_sse = None, math.inf
    for alpha, beta, phi in holt_grid():
        sse = holt_fixed_series(y, censored, alpha, beta, phi)[3]
        if sse < best_sse:
            best, best_sse = (alpha, beta, phi), sse
    if best is None:  # all-NaN series: every SSE is 0, the first grid point
        best = holt_grid()[0]
    alpha, beta, phi = best
    level, trend, fitted, _ = holt_fixed_series(y, censored, alpha, beta, phi)
    return level, trend, phi, fitted


def _damped_path(level, trend, phi, horizon):
    out, damping = [], 0.0
    for h in range(1, horizon + 1):
        damping += phi**h
        out.append(max(level + damping * trend, 0.0) if not math.isnan(level) else NAN)
    return out


def holt_damped_series(y, censored, horizon, season_length):
    level, trend, phi, fitted = _holt_fit_series(y, censored)
    return _damped_path(level, trend, phi, horizon), [
        max(f, 0.0) if not math.isnan(f) else NAN for f in fitted
    ]


def seasonal_profile_series(y, censored, season_length):
    """The shrunk multiplicative seasonal index of one series, loops over its observations."""
    n = len(y)
    m = season_length
    observed = [t for t in range(n) if not _is_missing(y[t])]
    if not observed:
        return [1.0] * m
    seasons = (n - observed[0]) // m
    if seasons < 2:
        return [1.0] * m
    points = [
        (t, y[t], (t - n) % m)
        for t in range(n - seasons * m, n)
        if not _is_missing(y[t]) and not censored[t]
    ]
    if not points or sum(v for _, v, _ in points) <= 0:
        return [1.0] * m
    by_position = {j: [(t, v) for t, v, p in points if p == j] for j in range(m)}
    cross = spread = 0.0
    for items in by_position.values():
        if not items:
            continue
        t_mean = sum(t for t, _ in items) / len(items)
        y_mean = sum(v for _, v in items) / len(items)
        cross += sum((t - t_mean) * (v - y_mean) for t, v in items)
        spread += sum((t - t_mean) ** 2 for t, _ in items)
    slope = cross / spread if spread > 1e-9 else 0.0
    mean_level = sum(v for _, v, _ in points) / len(points)
    mean_t = sum(t for t, _, _ in points) / len(points)
    intercept = mean_level - slope * mean_t

    def trend(t):
        return max(intercept + slope * t, 0.1 * mean_level)

    raw, trend_sum = [], []
    for j in range(m):
        total_y = sum(v for _, v in by_position[j])
        total_trend = sum(trend(t) for t, _ in by_position[j])
        raw.append(total_y / total_trend if total_trend > 0 else 1.0)
        trend_sum.append(total_trend)
    pearson = 0.0
    for t, v, j in points:
        expected = raw[j] * trend(t)
        if expected > 0:
            pearson += (v - expected) ** 2 / expected
    dispersion = pearson / max(len(points) - m, 1)
    noise = [dispersion / trend_sum[j] if trend_sum[j] > 0 else 0.0 for j in range(m)]
    signal = max(sum((r - 1.0) ** 2 for r in raw) / m - sum(noise) / m, 0.0)
    shrunk = []
    for j in range(m):
        weight = signal / (signal + noise[j]) if signal + noise[j] > 0 else 0.0
        shrunk.append(max(1.0 + weight * (raw[j] - 1.0), 0.1))
    average = sum(shrunk) / m
    return [s / average for s in shrunk]


def ets_seasonal_series(y, censored, horizon, season_length):
    n = len(y)
    profile = seasonal_profile_series(y, censored, season_length)
    index = [profile[(t - n) % season_length] for t in range(n)]
    adjusted = [value / s for value, s in zip(y, index)]
    level, trend, phi, fitted = _holt_fit_series(adjusted, censored)
    path = _damped_path(level, trend, phi, horizon)
    mean = [p * profile[h % season_length] for h, p in enumerate(path)]
    fitted = [max(f, 0.0) * s if not math.isnan(f) else NAN for f, s in zip(fitted, index)]
    return mean, fitted


# --------------------------------------------------------------------------------- intermittent


def _croston_rate_series(y, censored, alpha):
    size = interval = None
    since = 0
    started = False
    fitted = []

    def rate():
        if not started:
            return NAN
        return size / interval if size is not None else 0.0

    for value, cens in zip(y, censored):
        fitted.append(rate())
        if _is_missing(value):
            continue
        size_forecast = size if size is not None else 0.0
        if cens and started and value <= 0:
            continue  # a censored zero is not a period without demand
        started = True
        since += 1
        if value > 0:
            if not cens or value > size_forecast:
                size = value if size is None else size
                size = alpha * value + (1.0 - alpha) * size
            interval = since if interval is None else interval
            interval = alpha * since + (1.0 - alpha) * interval
            since = 0
    return rate(), fitted


def croston_series(y, censored, horizon, season_length, alpha=0.1):
    rate, fitted = _croston_rate_series(y, censored, alpha)
    return [rate] * horizon, fitted


def sba_series(y, censored, horizon, season_length, alpha=0.1):
    rate, fitted = _croston_rate_series(y, censored, alpha)
    factor = 1.0 - alpha / 2.0
    return [rate * factor] * horizon, [f * factor for f in fitted]


def tsb_series(y, censored, horizon, season_length, alpha_d=0.1, alpha_p=0.1):
    probability = size = None
    fitted = []
    for value, cens in zip(y, censored):
        size_forecast = size if size is not None else 0.0
        fitted.append(probability * size_forecast if probability is not None else NAN)
        if _is_missing(value):
            continue
        occurred = value > 0
        if cens and probability is not None and not occurred:
            continue  # a censored zero is not evidence of no demand
        indicator = 1.0 if occurred else 0.0
        probability = indicator if probability is None else probability
        probability = alpha_p * indicator + (1.0 - alpha_p) * probability
        if occurred and (not cens or value > size_forecast):
            size = value if size is None else size
            size = alpha_d * value + (1.0 - alpha_d) * size
    if probability is None:
        rate = NAN
    else:
        rate = probability * (size if size is not None else 0.0)
    return [rate] * horizon, fitted


# ---------------------------------------------------------------------------------------- ADIDA


def adida_series(y, censored, horizon, season_length):
    n = len(y)
    columns = [t for t in range(n) if not _is_missing(y[t])]
    if not columns:
        return [NAN] * horizon, [NAN] * n
    values = [y[t] for t in columns]
    flags = [bool(censored[t]) for t in columns]
    demands = [i for i, v in enumerate(values) if v > 0]
    fitted = [NAN] * n
    if not demands:
        for t in columns[1:]:
            fitted[t] = 0.0
        return [0.0] * horizon, fitted
    intervals = np.diff(np.array(demands) + 1, prepend=0)
    k = round(float(np.mean(intervals)))
    lost = len(values) % k
    sums, sums_censored = [], []
    for start in range(lost, len(values), k):
        sums.append(sum(values[start : start + k]))
        sums_censored.append(any(flags[start : start + k]))
    alpha = golden_section_series(sums, sums_censored, 0.1, 0.3)
    level, sums_fitted, _ = ses_fixed_series(sums, sums_censored, alpha)
    for index, t in enumerate(columns):
        if index >= lost:
            fitted[t] = sums_fitted[(index - lost) // k] / k
    return [level / k] * horizon, fitted


REFERENCES = {
    "naive": naive_series,
    "seasonal_naive": seasonal_naive_series,
    "historic_average": historic_average_series,
    "moving_average": moving_average_series,
    "ses": ses_series,
    "holt_damped": holt_damped_series,
    "ets_seasonal": ets_seasonal_series,
    "croston": croston_series,
    "sba": sba_series,
    "tsb": tsb_series,
    "adida": adida_series,
}
