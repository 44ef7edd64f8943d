"""Shared pieces of the forecasting model zoo: the result type, input checks, panel helpers.

Every model takes the series panel of one bucket as matrices:

- ``y``: ``(n_series, n_periods)`` float64 demand history, right-aligned at the forecast origin
  (column ``-1`` is the last period before the origin). ``NaN`` = missing: before the series
  started, or no data that period.
- ``censored``: ``(n_series, n_periods)`` bool, True where a stockout made ``y`` a lower bound.

and returns a :class:`ModelForecast` with ``mean`` ``(n_series, horizon)`` and one-step-ahead
in-sample ``fitted`` ``(n_series, n_periods)``.

Conventions shared by all models (each model's docstring repeats what applies to it):

- Leading ``NaN`` s are skipped per series; interior ``NaN`` s are skipped in the recursion and
  never read as zeros (a closed store is not a period of zero demand): the state carries over
  unchanged (levels, seasonal slots, Croston's interval count), except that a damped trend
  keeps moving along its trend. A series that is all ``NaN`` gets ``NaN`` forecasts; the
  forecast stage decides what to do with it. A missing period's fitted value is the forecast
  the model held for it (ADIDA: NaN).
- A censored observation is a lower bound of demand. It is used in an update only when it
  exceeds the model's current forecast of the quantity being updated (then it is evidence that
  demand is at least that high); otherwise it is treated as missing, so stockouts never pull a
  level down. A censored observation that arrives before the series has any forecast is used:
  a lower bound is better than nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from invspark.errors import ConfigError, InputDataError

GOLDEN_RATIO = (np.sqrt(5.0) + 1.0) / 2.0
# statsforecast stops at a bracket of 1e-12; below ~1e-8 the SSE differences between the two
# inner points are at floating-point rounding level, so the extra 19 iterations chase noise
# (the forecasts agree to ~1e-8 relative) and cost a third of the time.
GOLDEN_SECTION_TOLERANCE = 1e-8


@dataclass(frozen=True)
class ModelForecast:
    """What every model returns.

    mean: ``(n_series, horizon)`` float64, ``>= 0`` where the series has history, ``NaN`` for an
        all-missing series.
    fitted: ``(n_series, n_periods)`` float64 one-step-ahead in-sample forecasts, ``NaN`` where
        undefined (before and at the series' first used observation).
    name: the model's registry name.
    """

    mean: np.ndarray
    fitted: np.ndarray
    name: str


def validate_panel(
    y: np.ndarray, censored: np.ndarray, horizon: int, season_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Check the common arguments; return ``y`` as float64 and ``censored`` as bool arrays.

    Raises InputDataError for a bad panel and ConfigError for a bad horizon or season length.
    """
    values = np.asarray(y, dtype=np.float64)
    if values.ndim != 2:
        raise InputDataError(
            f"y must be a 2-D (n_series, n_periods) matrix, got shape {values.shape}; "
            "wrap a single series as y[None, :]"
        )
    if values.shape[1] < 1:
        raise InputDataError(
            f"y must have at least one period, got shape {values.shape}; pass at least one "
            "period of history (all-NaN rows are allowed for series without history)"
        )
    stockouts = np.asarray(censored)
    if stockouts.shape != values.shape:
        raise InputDataError(
            f"censored must have the shape of y {values.shape}, got {stockouts.shape}; "
            "pass one flag per period (np.zeros_like(y, dtype=bool) when nothing is censored)"
        )
    if stockouts.dtype != np.bool_:
        raise InputDataError(
            f"censored must be a bool matrix, got dtype {stockouts.dtype}; "
            "convert it with censored.astype(bool)"
        )
    if np.isinf(values).any():
        raise InputDataError(
            "y contains infinite values; use NaN for missing periods and finite units otherwise"
        )
    if (values < 0).any():
        raise InputDataError(
            f"y must be >= 0 (units sold), got minimum {np.nanmin(values)}; "
            "negative rows belong in quarantine, not in the series panel"
        )
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ConfigError(f"horizon must be an integer >= 1, got {horizon!r}")
    if (
        isinstance(season_length, bool)
        or not isinstance(season_length, (int, np.integer))
        or season_length < 1
    ):
        raise ConfigError(
            f"season_length must be an integer >= 1, got {season_length!r}; "
            "use 7 for daily, 52 for weekly, 12 for monthly data"
        )
    return values, stockouts


def check_smoothing_parameter(name: str, value: float, low: float = 0.0, high: float = 1.0) -> None:
    """Raise ConfigError unless ``low < value <= high`` (smoothing weights, damping factors)."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )
    if not is_number or not (low < float(value) <= high):
        raise ConfigError(f"{name} must be a number in ({low}, {high}], got {value!r}")


def first_observed_index(values: np.ndarray) -> np.ndarray:
    """Column of each series' first non-NaN value, ``(n_series,)`` int; ``n_periods`` if none."""
    observed = ~np.isnan(values)
    return np.where(observed.any(axis=1), observed.argmax(axis=1), values.shape[1])


def repeat_horizon(last: np.ndarray, horizon: int) -> np.ndarray:
    """A flat forecast: ``(n_series,)`` -> ``(n_series, horizon)``."""
    return np.repeat(last[:, None], horizon, axis=1)


class SesPanel:
    """A panel prepared once for many simple-exponential-smoothing passes (time-major arrays).

    Level recursion (Hyndman & Athanasopoulos, FPP3 section 8.1, error-correction form):
    ``l_t = l_{t-1} + alpha (y_t - l_{t-1})``, initial level = the first observation, one-step
    forecast ``yhat_{t+1} = l_t``. This is statsforecast's ``ses_forecast`` / ``ses_sse`` (level
    initialised at ``x[0]``; the same values up to rounding), extended to missing and censored
    periods: a missing period leaves the level unchanged; a censored period updates it only when
    ``y_t > l_{t-1}``, and only used periods count in the SSE.

    values: ``(n_series, n_periods)``; censored: same shape, bool.
    """

    def __init__(self, values: np.ndarray, censored: np.ndarray) -> None:
        n_series, n_periods = values.shape
        self.shape = (n_series, n_periods)
        self.start = first_observed_index(values)  # (n_series,)
        rows = np.arange(n_series)
        self.first = np.where(
            self.start < n_periods, values[rows, np.minimum(self.start, n_periods - 1)], np.nan
        )
        column = np.arange(n_periods)[None, :]
        observed = ~np.isnan(values)
        # time-major copies, (n_periods, n_series), so that each step reads contiguous memory
        self.observation = np.ascontiguousarray(np.nan_to_num(values, nan=0.0).T)
        self.from_start = np.ascontiguousarray((observed & (column >= self.start[:, None])).T)
        self.censored_after = np.ascontiguousarray(
            (observed & censored & (column > self.start[:, None])).T
        )
        self.any_censored = self.censored_after.any(axis=1)  # (n_periods,)
        self.first_step = int(self.start.min(initial=n_periods))

    def run(
        self, alpha: np.ndarray, return_fitted: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Smooth every series with its own ``alpha`` ``(n_series,)``.

        Returns ``(level, fitted, sse)``: the final level ``(n_series,)`` (NaN for an all-NaN
        series), fitted ``(n_series, n_periods)`` (None unless ``return_fitted``) and the sum of
        squared one-step errors over the used periods, ``(n_series,)``.
        """
        n_series, n_periods = self.shape
        level = self.first.copy()
        sse = np.zeros(n_series)
        error = np.empty(n_series)
        step = np.empty(n_series)
        fitted = np.full((n_periods, n_series), np.nan) if return_fitted else None
        for t in range(self.first_step, n_periods):
            observation = self.observation[t]
            if fitted is not None:
                fitted[t] = level
            np.subtract(observation, level, out=error)
            use = self.from_start[t]
            if self.any_censored[t]:
                use = use & ~(self.censored_after[t] & (error <= 0.0))
            error *= use
            np.multiply(alpha, error, out=step)
            level += step
            error *= error
            sse += error
        if fitted is None:
            return level, None, sse
        fitted_by_series = fitted.T.copy()  # (n_series, n_periods)
        fitted_by_series[np.arange(n_periods)[None, :] <= self.start[:, None]] = np.nan
        return level, fitted_by_series, sse


def golden_section_alpha(panel: SesPanel, lower: float, upper: float) -> np.ndarray:
    """Per-series SES smoothing weight minimising the in-sample SSE, by golden-section search.

    The same search as statsforecast's ``golden_section_ses`` (Kiefer 1953 golden-section search
    on ``[lower, upper]``, stop when the two inner points tie or the bracket is narrower than
    ``GOLDEN_SECTION_TOLERANCE`` (1e-8; statsforecast uses 1e-12), return the bracket's
    midpoint), run for all series at once: each iteration evaluates the SSE of every series at
    its own new point with one vectorized :meth:`SesPanel.run`. Returns alpha ``(n_series,)``.
    """
    n_series = panel.shape[0]
    low = np.full(n_series, float(lower))
    high = np.full(n_series, float(upper))
    inner_low = high - (high - low) / GOLDEN_RATIO
    inner_high = low + (high - low) / GOLDEN_RATIO
    sse_low = panel.run(inner_low, return_fitted=False)[2]
    sse_high = panel.run(inner_high, return_fitted=False)[2]
    active = np.ones(n_series, dtype=bool)
    while True:
        active &= np.abs(high - low) >= GOLDEN_SECTION_TOLERANCE
        move_left = active & (sse_low < sse_high)
        move_right = active & (sse_high < sse_low)
        active &= move_left | move_right
        if not active.any():
            break
        high = np.where(move_left, inner_high, high)
        low = np.where(move_right, inner_low, low)
        candidate = np.where(
            move_left, high - (high - low) / GOLDEN_RATIO, low + (high - low) / GOLDEN_RATIO
        )
        sse_candidate = panel.run(candidate, return_fitted=False)[2]
        inner_high, sse_high, inner_low, sse_low = (
            np.where(move_left, inner_low, np.where(move_right, candidate, inner_high)),
            np.where(move_left, sse_low, np.where(move_right, sse_candidate, sse_high)),
            np.where(move_left, candidate, np.where(move_right, inner_high, inner_low)),
            np.where(move_left, sse_candidate, np.where(move_right, sse_high, sse_low)),
        )
    return (high + low) / 2.0


def pack_right(keep: np.ndarray) -> np.ndarray:
    """Column order that moves each row's kept entries to the right end, order preserved.

    keep: ``(n_series, n_periods)`` bool. Returns ``order`` ``(n_series, n_periods)`` int such that
    ``np.take_along_axis(x, order, axis=1)`` holds the dropped entries first, then the kept ones
    in their original order (a stable sort on the flag).
    """
    return np.argsort(keep, axis=1, kind="stable")
