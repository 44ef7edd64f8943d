"""Business-outcome backtest for one bucket: forecast at a holdout origin, simulate three policy families.

``outcome_backtest_bucket(panel, settings) -> frame`` is a pure function of one bucket of the
series panel (docs/architecture.md) plus the item columns ``holding_cost_rate``,
``ordering_cost``, ``case_pack``, ``moq``. Per bucket:

1. **Holdout**: the last ``settings.holdout`` periods of every series are cut off; the
   truncated panel (the holdout's planned ``price`` / ``promo`` become ``future_price`` /
   ``future_promo``) is forecast with :func:`invspark.stages.forecast.forecast_bucket`
   (``settings.horizon`` periods ahead), as the forecast stage would have at the origin.
2. **Policies**, each at every knob value of its sweep (the service-versus-inventory curve):

   - ``invspark``: :func:`invspark.policy.compute_policies` with the forecast's distribution
     (``demand_mean``, ``demand_std``, ``distribution``), the series' lead-time mean and std
     and review period, policy ``settings.invspark_policy`` (RS), target = the knob, a CSL or a
     fill rate as ``settings.service_level_type`` says (the run's ``policy.service_level_type``);
     with ``settings.service_target_scope = 'segment'`` each target x segment of the bucket is one
     pool (``compute_policies(..., pool_service_by=...)``, kernels.pooled_service).
   - ``mae_normal`` (a common accelerator recipe): RS with
     ``S = mu (L + R) + z(target) * MAE * sqrt(L + R)``, ``MAE`` the chosen model's mean
     absolute backtest error per period (the forecast's ``demand_std`` where it has none), the
     lead-time std ignored; knob = the CSL target.
   - ``static_cover`` (the rule many retailers run): reorder when the inventory position falls
     to ``X`` weeks of average sales, order up to ``X`` weeks + one review period of sales
     (RsS at the series' review period); average sales = mean observed units of the last
     ``static_window_weeks`` weeks before the origin; knob (``service_level_target`` in
     ``policy_simulation``) = ``X`` in weeks.

3. **Simulation** on the realised holdout demand with
   :func:`invspark.kernels.inventory_simulation.simulate_inventory`: every family on the same
   series sees the same demand and the same lead-time draws (seeded per bucket). Demand of a
   censored holdout period is the observed units (a lower bound: true demand is at least
   that); a missing period (store closed, NaN) has no demand. Every simulation starts with the
   policy's order-up-to level on hand and nothing on order. The levels move every period
   (``replan_every_period``, :func:`level_paths`): invspark and mae_normal follow the latest
   forecast's path with its safety stock fixed, static_cover recomputes its average sales from
   the trailing window, as a store running the rule weekly would. With ``reforecast_every``
   the forecast and both forecast-driven policies are made again every so many periods from the
   history seen so far (:func:`planned_paths`), as a nightly or weekly run would; otherwise the
   origin's forecast serves the whole holdout.
4. **Output**: sums per ``policy`` x ``segment`` (the forecast's segment at the origin) x
   ``service_level_target`` (:data:`OUTCOME_SUMS_SCHEMA`), which add up across buckets;
   :func:`outcome_table` turns them into the ratios of ``policy_simulation``.

Series without a forecast or a policy (no history, no lead time) are left out and counted in
``n_series_skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from invspark.errors import ConfigError, InputDataError
from invspark.kernels import inventory_simulation as sim
from invspark.kernels import pooled_service
from invspark.kernels.pooled_service import SERVICE_TARGET_SCOPES
from invspark.policy import SERVICE_LEVEL_TYPES, compute_policies
from invspark.stages.forecast import DEFAULT_MODELS, ForecastSettings, forecast_bucket

POLICY_FAMILIES = ("invspark", "static_cover", "mae_normal")
PERIODS_PER_YEAR = {"D": 365.0, "W": 52.0, "M": 12.0}
SUM_COLUMNS = ("n_series", *sim.SUMMARY_COLUMNS)
OUTCOME_SUMS_SCHEMA = pa.schema(
    [("policy", pa.string()), ("segment", pa.string()), ("service_level_target", pa.float64())]
    + [(name, pa.float64()) for name in SUM_COLUMNS]
    + [("n_series_skipped", pa.float64())]
)
HISTORY_LISTS = ("units", "censored", "price", "promo", "category_mean_units")


@dataclass(frozen=True)
class OutcomeBacktestSettings:
    """Settings of the outcome backtest, checked at construction (bad values raise ConfigError).

    ``frequency`` D/W/M and ``n_periods`` (T of the panel's arrays); ``holdout`` periods
    simulated; ``horizon`` of the forecast made at the origin (default: the holdout; the
    policy is set once at the origin and held through the holdout); ``service_targets`` knobs of ``invspark`` (of
    type ``service_level_type``: ``csl`` or ``fill_rate``) and ``mae_normal`` (CSLs: its ``z``); ``static_cover_weeks`` the X knobs of ``static_cover``;
    ``static_window_weeks`` its average-sales window; ``lost_sales`` False = backorders;
    ``holding_cost_rate`` per year where the item has none; ``apply_order_rounding`` False
    ignores MOQ and case pack (to check the policy's service calibration alone);
    ``replan_every_period`` moves the levels every period (:func:`level_paths`), False holds
    them at their origin values; ``reforecast_every`` periods, the forecast and the policies are
    made again from the history seen so far (None: once, at the origin); ``seed`` of
    the lead-time draws; ``warmup`` periods left out of the period sums; the forecast's own
    ``backtest_folds`` / ``backtest_step`` / ``models`` / ``level_calibration`` /
    ``group_seasonality``.
    """

    frequency: str
    n_periods: int
    holdout: int
    horizon: int | None = None
    service_targets: tuple = (0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
    service_level_type: str = "csl"
    static_cover_weeks: tuple = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0)
    static_window_weeks: float = 13.0
    invspark_policy: str = "RS"
    lost_sales: bool = False
    holding_cost_rate: float = 0.25
    apply_order_rounding: bool = True
    replan_every_period: bool = True
    reforecast_every: int | None = None
    seed: int = 0
    warmup: int = 0
    backtest_folds: int = 3
    backtest_step: int = 0
    models: tuple = DEFAULT_MODELS
    level_calibration: bool = False
    group_seasonality: bool = False
    censored_demand: str = "impute"
    periods_per_year: float | None = None
    service_target_scope: str = "series"

    def __post_init__(self):
        if self.frequency not in PERIODS_PER_YEAR:
            raise ConfigError(f"frequency must be one of {sorted(PERIODS_PER_YEAR)}, got {self.frequency!r}")
        if not isinstance(self.holdout, (int, np.integer)) or not 1 <= self.holdout < self.n_periods:
            raise ConfigError(f"holdout must be an integer in [1, n_periods={self.n_periods}), got {self.holdout!r}")
        if not self.service_targets or any(not 0 < t < 1 for t in self.service_targets):
            raise ConfigError(f"service_targets must be service levels strictly between 0 and 1, got {self.service_targets!r}")
        if self.service_level_type not in SERVICE_LEVEL_TYPES:
            raise ConfigError(f"service_level_type must be one of {SERVICE_LEVEL_TYPES}, got {self.service_level_type!r}")
        if self.service_target_scope not in SERVICE_TARGET_SCOPES:
            raise ConfigError(f"service_target_scope must be one of {SERVICE_TARGET_SCOPES}, got {self.service_target_scope!r}")
        if not self.static_cover_weeks or any(not w >= 0 for w in self.static_cover_weeks):
            raise ConfigError(f"static_cover_weeks must be >= 0 weeks, got {self.static_cover_weeks!r}")
        if not self.static_window_weeks > 0:
            raise ConfigError(f"static_window_weeks must be > 0, got {self.static_window_weeks!r}")
        if self.invspark_policy not in sim.POLICIES:
            raise ConfigError(f"invspark_policy must be one of {sim.POLICIES}, got {self.invspark_policy!r}")
        if self.reforecast_every is not None and not (
            isinstance(self.reforecast_every, (int, np.integer)) and self.reforecast_every >= 1
        ):
            raise ConfigError(f"reforecast_every must be a whole number of periods >= 1 (or None), got {self.reforecast_every!r}")
        if self.horizon is not None and not 1 <= self.horizon <= self.holdout:
            raise ConfigError(f"horizon must be in [1, holdout={self.holdout}] (or None = holdout), got {self.horizon!r}")
        self.forecast_settings()  # the truncated history must carry the forecast's backtest

    @property
    def year_periods(self) -> float:
        return self.periods_per_year or PERIODS_PER_YEAR[self.frequency]

    @property
    def forecast_horizon(self) -> int:
        return self.horizon or self.holdout

    @property
    def periods_per_week(self) -> float:
        return self.year_periods / 52.0

    @property
    def forecast_offsets(self) -> range:
        """Periods after the holdout origin at which a forecast is made (0 first)."""
        return range(0, self.holdout, self.reforecast_every or self.holdout)

    def forecast_settings(self, offset: int = 0) -> ForecastSettings:
        return ForecastSettings(frequency=self.frequency, horizon=self.forecast_horizon,
                                n_periods=self.n_periods - self.holdout + offset,
                                backtest_folds=self.backtest_folds, backtest_step=self.backtest_step,
                                models=self.models, level_calibration=self.level_calibration,
                                group_seasonality=self.group_seasonality,
                                censored_demand=self.censored_demand)


def _matrix(frame: pd.DataFrame, column: str, length: int, dtype=np.float64) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros((0, length), dtype=dtype)
    matrix = np.stack(frame[column].to_numpy()).astype(dtype)  # (n, length)
    if matrix.shape[1] != length:
        raise InputDataError(f"panel column {column!r} must hold lists of length {length}, got {matrix.shape[1]}; "
                             "pass the panel's n_periods in the settings")
    return matrix


def split_holdout(panel: pd.DataFrame, settings: OutcomeBacktestSettings, offset: int = 0
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The panel truncated ``offset`` periods after the origin ``T - holdout``, and the holdout's
    units and censored masks ``(n, H)`` (from the origin). The plan of the forecast's horizon
    (planned ``price`` / ``promo``) is cut to the panel's end: a forecast made late in the holdout
    sees the last known plan repeated."""
    T, H = settings.n_periods, settings.holdout
    origin = T - H
    cut = origin + offset
    truncated = panel.copy()
    matrices = {name: _matrix(panel, name, T, bool if name == "censored" else np.float64) for name in HISTORY_LISTS}
    for name, matrix in matrices.items():
        truncated[name] = list(matrix[:, :cut])
    plan = np.minimum(np.arange(cut, cut + settings.forecast_horizon), T - 1)
    truncated["future_price"] = list(matrices["price"][:, plan])
    truncated["future_promo"] = list(matrices["promo"][:, plan])
    return truncated, matrices["units"][:, origin:], matrices["censored"][:, origin:]


def chosen_model_mae(forecast: pd.DataFrame) -> np.ndarray:
    """Mean absolute backtest error per period of each row's chosen model, ``(n,)`` (NaN: none)."""
    n = len(forecast)
    if n == 0:
        return np.zeros(0)
    lists = pa.array(forecast["backtest"])
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    entries = pc.list_flatten(lists)
    model = pc.struct_field(entries, "model").to_numpy(zero_copy_only=False).astype(object)
    chosen = forecast["model"].to_numpy(dtype=object)[parents]
    keep = (model == chosen).astype(np.float64)
    abs_error = np.nan_to_num(pc.struct_field(entries, "abs_error").to_numpy(zero_copy_only=False).astype(float))
    points = pc.struct_field(entries, "n_points").to_numpy(zero_copy_only=False).astype(float)
    total = np.bincount(parents, weights=keep * abs_error, minlength=n)
    count = np.bincount(parents, weights=keep * points, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def policy_levels(forecast: pd.DataFrame, truncated: pd.DataFrame, settings: OutcomeBacktestSettings) -> pd.DataFrame:
    """One row per family x knob x series: ``policy``, ``knob``, ``series`` (row in the panel),
    ``policy_type``, ``reorder_point``, ``order_up_to``, ``order_quantity``, ``review_period``."""
    n = len(forecast)
    lead = truncated["lead_time_mean"].to_numpy(dtype=float)
    lead_std = truncated["lead_time_std"].to_numpy(dtype=float)
    review = np.maximum(np.rint(np.nan_to_num(truncated["review_period"].to_numpy(dtype=float), nan=1.0)), 1.0)
    mean = forecast["demand_mean"].to_numpy(dtype=float)
    std = forecast["demand_std"].to_numpy(dtype=float)
    series = np.arange(n)
    frames = []

    # (a) invspark: compute_policies once over all targets x series
    targets = np.asarray(settings.service_targets, dtype=float)
    k = targets.size
    rows = pd.DataFrame({
        "demand_mean": np.tile(mean, k), "demand_std": np.tile(std, k),
        "distribution": np.tile(forecast["distribution"].to_numpy(dtype=object), k),
        "demand_shape": np.tile(forecast["demand_shape"].to_numpy(dtype=object), k),
        **{key: np.tile(forecast[key].to_numpy(dtype=float), k) for key in ("demand_std_history", "adi", "cv2_size")},
        "lead_time_mean": np.tile(lead, k), "lead_time_std": np.tile(lead_std, k), "review_period": np.tile(review, k),
        "policy": settings.invspark_policy, "service_level_type": settings.service_level_type,
        "service_level_target": np.repeat(targets, n),  # (k * n,): target-major, then series
    })
    pool = None
    if settings.service_target_scope == "segment":  # one pool per target x segment
        pool = "service_pool"
        codes, _ = pd.factorize(forecast["segment"].fillna(""))
        rows[pool] = np.repeat(np.arange(k), n) * (codes.max(initial=0) + 1) + np.tile(codes, k)
    levels = compute_policies(rows, pool_service_by=pool)
    frames.append(pd.DataFrame({
        "policy": "invspark", "knob": np.repeat(targets, n), "series": np.tile(series, k),
        "policy_type": settings.invspark_policy, "reorder_point": levels["reorder_point"].to_numpy(dtype=float),
        "order_up_to": levels["order_up_to"].to_numpy(dtype=float),
        "order_quantity": levels["order_quantity"].to_numpy(dtype=float), "review_period": np.tile(review, k),
    }))

    # (b) static cover: X weeks of average recent sales, order up to X weeks + one review period
    units = np.stack(truncated["units"].to_numpy()) if n else np.zeros((0, 1))  # (n, T - H)
    window = max(int(round(settings.static_window_weeks * settings.periods_per_week)), 1)
    recent = units[:, -window:]
    with np.errstate(invalid="ignore"):
        observed = (~np.isnan(recent)).sum(axis=1)
        average = np.where(observed > 0, np.nansum(recent, axis=1) / np.maximum(observed, 1), np.nan)  # (n,)
    weeks = np.asarray(settings.static_cover_weeks, dtype=float)
    reorder = np.outer(weeks * settings.periods_per_week, average).reshape(-1)  # (k_w * n,): cover-major
    frames.append(pd.DataFrame({
        "policy": "static_cover", "knob": np.repeat(weeks, n), "series": np.tile(series, weeks.size),
        "policy_type": "RsS", "reorder_point": reorder,
        "order_up_to": reorder + np.tile(review * average, weeks.size), "order_quantity": np.nan,
        "review_period": np.tile(review, weeks.size),
    }))

    # (c) mae_normal: RS with MAE as sigma and the lead time taken as its mean
    mae = chosen_model_mae(forecast)
    sigma = np.where(np.isnan(mae), std, mae)
    protection = np.nan_to_num(lead, nan=0.0) + review  # (n,)
    z = stats.norm.ppf(targets)  # (k,)
    up_to = mean[None, :] * protection[None, :] + z[:, None] * (sigma * np.sqrt(protection))[None, :]  # (k, n)
    frames.append(pd.DataFrame({
        "policy": "mae_normal", "knob": np.repeat(targets, n), "series": np.tile(series, k), "policy_type": "RS",
        "reorder_point": np.nan, "order_up_to": np.maximum(up_to, 0.0).reshape(-1), "order_quantity": np.nan,
        "review_period": np.tile(review, k),
    }))
    return pd.concat(frames, ignore_index=True)


def _cumulative_at(cumulative: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``cumulative`` ``(n, E + 1)`` (0 first) read at fractional period counts ``x`` ``(n, k)``, linearly."""
    top = cumulative.shape[1] - 1
    x = np.clip(x, 0.0, top)
    low = np.minimum(np.floor(x).astype(np.int64), top - 1)  # (n, k)
    below = np.take_along_axis(cumulative, low, axis=1)
    above = np.take_along_axis(cumulative, low + 1, axis=1)
    return below + (x - low) * (above - below)


def forecast_shift(forecast: pd.DataFrame, protection: np.ndarray, holdout: int) -> np.ndarray:
    """``E[D(t .. t + P)] - E[D(0 .. P)]`` from the origin's forecast path, ``(n, holdout)``.

    The path's mean per period ``(n, H_f)`` is extended beyond its horizon with its average (as
    ``kernels.demand_distribution.protection_interval_demand`` does); ``P`` = lead time + review
    period ``(n,)``, fractional periods read linearly from the cumulative path.
    """
    n = len(forecast)
    path = np.nan_to_num(np.stack(forecast["mean"].to_numpy())) if n else np.zeros((0, 1))  # (n, H_f)
    extra = holdout + int(np.ceil(np.max(protection, initial=0.0))) + 1
    extended = np.concatenate([path, np.repeat(path.mean(axis=1, keepdims=True), extra, axis=1)], axis=1)  # (n, E)
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(extended, axis=1)], axis=1)  # (n, E + 1)
    start = np.broadcast_to(np.arange(holdout, dtype=np.float64)[None, :], (n, holdout))  # (n, H)
    ahead = _cumulative_at(cumulative, start + protection[:, None]) - _cumulative_at(cumulative, start)  # (n, H)
    return ahead - ahead[:, :1]


def trailing_average(units: np.ndarray, origin: int, holdout: int, window: int) -> np.ndarray:
    """Mean observed units of the ``window`` periods before each holdout period ``origin + t``, ``(n, holdout)``
    (NaN periods skipped; NaN where the window has none): the static rule's average sales, recomputed
    every period from the sales seen so far."""
    observed = ~np.isnan(units)  # (n, T)
    total = np.concatenate([np.zeros((len(units), 1)), np.cumsum(np.where(observed, units, 0.0), axis=1)], axis=1)
    count = np.concatenate([np.zeros((len(units), 1)), np.cumsum(observed, axis=1)], axis=1)  # (n, T + 1)
    end = origin + np.arange(holdout)  # (H,): periods before origin + t
    begin = np.maximum(end - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums, counts = total[:, end] - total[:, begin], count[:, end] - count[:, begin]
        return np.where(counts > 0, sums / counts, np.nan)


def _review_periods(levels: pd.DataFrame, n_series: int) -> np.ndarray:
    """Each series' review period ``(n_series,)`` from its family rows (1 for a series without any)."""
    return levels.groupby("series")["review_period"].first().reindex(range(n_series)).fillna(1.0).to_numpy()


def level_paths(levels: pd.DataFrame, forecast: pd.DataFrame, panel: pd.DataFrame, settings: OutcomeBacktestSettings,
                start: int = 0, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-period ``(reorder_point, order_up_to)`` ``(n_rows, length)`` of every family x knob x series
    row, for the holdout periods ``start .. start + length`` (default: the whole holdout).

    invspark and mae_normal keep the safety stock fixed at the forecast's origin (``start``) and
    follow its forecast path: ``S_t = S + E[D(t .. t + P)] - E[D(0 .. P)]``; static_cover
    recomputes its average sales every period from the trailing window of realised sales
    (:func:`trailing_average`). Without ``settings.replan_every_period`` every level is held at
    its origin value.
    """
    H = settings.holdout - start if length is None else length
    rows = levels["series"].to_numpy()
    s = np.repeat(levels["reorder_point"].to_numpy(dtype=float)[:, None], H, axis=1)  # (rows, H)
    S = np.repeat(levels["order_up_to"].to_numpy(dtype=float)[:, None], H, axis=1)  # (rows, H)
    if not settings.replan_every_period:
        return s, S
    lead = np.nan_to_num(panel["lead_time_mean"].to_numpy(dtype=float), nan=0.0)
    review = _review_periods(levels, len(panel))
    shift = forecast_shift(forecast, lead + review, H)  # (n, H)
    planned = levels["policy"].isin(["invspark", "mae_normal"]).to_numpy()
    S = np.where(planned[:, None], np.maximum(S + shift[rows], 0.0), S)
    static = levels["policy"].to_numpy() == "static_cover"
    units = _matrix(panel, "units", settings.n_periods)
    window = max(int(round(settings.static_window_weeks * settings.periods_per_week)), 1)
    average = trailing_average(units, settings.n_periods - settings.holdout + start, H, window)[rows]  # (rows, H)
    cover = (levels["knob"].to_numpy(dtype=float) * settings.periods_per_week)[:, None]
    s = np.where(static[:, None], cover * average, s)
    S = np.where(static[:, None], cover * average + levels["review_period"].to_numpy(dtype=float)[:, None] * average, S)
    return s, S


def _needed_level(levels: pd.DataFrame) -> np.ndarray:
    """The level a row's simulation cannot do without (S for RS, s and S otherwise), ``(rows,)``."""
    return np.where(levels["policy_type"].to_numpy() == "RS", levels["order_up_to"].to_numpy(),
                    levels["reorder_point"].to_numpy() + levels["order_up_to"].to_numpy())


def planned_paths(panel: pd.DataFrame, settings: OutcomeBacktestSettings):
    """Forecast and policies at every offset of ``settings.forecast_offsets``; returns the origin's
    forecast and levels, the ``(rows, H)`` reorder-point and order-up-to paths spliced from the
    forecasts (each covers the periods until the next), and a ``(rows,)`` mask of rows whose
    levels exist at every offset."""
    H = settings.holdout
    offsets = list(settings.forecast_offsets)
    reorder, order_up_to, usable = [], [], None
    for index, offset in enumerate(offsets):
        truncated, _, _ = split_holdout(panel, settings, offset)
        forecast = forecast_bucket(truncated, settings.forecast_settings(offset))
        levels = policy_levels(forecast, truncated, settings)
        if index == 0:
            first_forecast, first_levels = forecast, levels
        length = (offsets[index + 1] if index + 1 < len(offsets) else H) - offset
        s, S = level_paths(levels, forecast, panel, settings, start=offset, length=length)
        reorder.append(s)
        order_up_to.append(S)
        ok = np.isfinite(_needed_level(levels))
        usable = ok if usable is None else usable & ok
    return first_forecast, first_levels, np.concatenate(reorder, axis=1), np.concatenate(order_up_to, axis=1), usable


def with_reference(levels: pd.DataFrame, reorder_path: np.ndarray, order_up_to_path: np.ndarray,
                   has_levels: np.ndarray, reference_order_up_to: np.ndarray, targets) -> tuple:
    """The family rows and paths with a ``reference`` RS family appended: one row per target x
    series with the order-up-to path ``reference_order_up_to[k, i]`` ``(k, n, H)`` and the review
    period of the series' invspark rows."""
    k, n, _ = reference_order_up_to.shape
    review = _review_periods(levels[levels["policy"] == "invspark"], n)
    rows = pd.DataFrame({
        "policy": "reference", "knob": np.repeat(np.asarray(targets, dtype=float), n), "series": np.tile(np.arange(n), k),
        "policy_type": "RS", "reorder_point": np.nan, "order_up_to": reference_order_up_to[:, :, 0].reshape(-1),
        "order_quantity": np.nan, "review_period": np.tile(review, k),
    })
    paths = reference_order_up_to.reshape(k * n, -1)
    return (pd.concat([levels, rows], ignore_index=True), np.concatenate([reorder_path, np.full(paths.shape, np.nan)]),
            np.concatenate([order_up_to_path, paths]), np.concatenate([has_levels, np.isfinite(paths).all(axis=1)]))


def pooled_reference(order_up_to: np.ndarray, service_at: np.ndarray, service_below: np.ndarray, weight: np.ndarray,
                     targets, segment: np.ndarray, unit_cost: np.ndarray) -> np.ndarray:
    """The reference's order-up-to paths ``(k, n, H)`` with each target x segment x holdout period
    pooled as invspark's levels are (kernels.pooled_service): ``service_at`` / ``service_below`` the
    true law's service at S and S - 1 (P(D <= S) for CSL targets, the fill rate for fill-rate
    targets), ``weight`` each series' pool weight (cycles per period for CSL targets, the true mean
    demand per period for fill rates; 0 for a series without demand over the interval, which takes
    no part, as a forecast without demand takes none in compute_policies), each ``(k, n, H)``;
    ``segment``, ``unit_cost`` ``(n,)``."""
    k, n, H = order_up_to.shape
    codes, _ = pd.factorize(pd.Series(segment, dtype=object).fillna(""))
    group = (np.arange(k)[:, None, None] * (codes.max(initial=0) + 1) + codes[None, :, None]) * H \
        + np.arange(H)[None, None, :]  # (k, n, H): one pool per target x segment x period
    cost = np.broadcast_to(np.asarray(unit_cost, dtype=float)[None, :, None], (k, n, H))
    target = np.broadcast_to(np.asarray(targets, dtype=float)[:, None, None], (k, n, H))
    level = pooled_service.pooled_levels(order_up_to.ravel(), service_at.ravel(), service_below.ravel(), target.ravel(),
                                         np.broadcast_to(weight, (k, n, H)).ravel(),
                                         pooled_service.pool_unit_costs(cost.ravel(), group.ravel()), group.ravel())
    return level.reshape(k, n, H)


def simulate_families(panel: pd.DataFrame, settings: OutcomeBacktestSettings, seed=None,
                      reference_order_up_to: np.ndarray | None = None,
                      reference_service: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                      ) -> tuple[pd.DataFrame, int]:
    """Per family x knob x series outcome sums (one row each, columns ``policy``, ``segment``,
    ``service_level_target``, ``sku_id``, ``location_id`` and :data:`SUM_COLUMNS`), and the number
    of series skipped (no forecast, policy or lead time).

    ``reference_order_up_to`` ``(len(settings.service_targets), n, holdout)``, optional: the
    order-up-to paths of an RS policy set outside the forecast, per invspark target and series
    (e.g. from the true demand law of generated data,
    :func:`invspark.kernels.synthetic.interval_demand_quantiles`), simulated as the family
    ``reference`` on the same demand and lead times. Under ``settings.service_target_scope =
    'segment'`` the reference is pooled like invspark (:func:`pooled_reference`), from
    ``reference_service`` = (service at S, service at S - 1, pool weight) of its levels, each
    ``(k, n, holdout)``.
    """
    truncated, actual, censored = split_holdout(panel, settings)
    forecast, levels, reorder_path, order_up_to_path, has_levels = planned_paths(panel, settings)
    if reference_order_up_to is not None and settings.service_target_scope == "segment":
        if reference_service is None:
            raise InputDataError("a segment-pooled reference needs reference_service = "
                                 "(service at S, service at S - 1, pool weight)")
        unit_cost = panel["unit_cost"].to_numpy(dtype=float) if "unit_cost" in panel else np.full(len(panel), np.nan)
        reference_order_up_to = pooled_reference(reference_order_up_to, *reference_service, settings.service_targets,
                                                 forecast["segment"].to_numpy(dtype=object), unit_cost)
    if reference_order_up_to is not None:
        levels, reorder_path, order_up_to_path, has_levels = with_reference(
            levels, reorder_path, order_up_to_path, has_levels, reference_order_up_to, settings.service_targets)
    lead_mean = truncated["lead_time_mean"].to_numpy(dtype=float)
    ok = has_levels & np.isfinite(lead_mean)[levels["series"].to_numpy()]
    # a series is simulated under every family or under none, so the families compare like with like
    complete = pd.Series(ok).groupby(levels["series"].to_numpy()).transform("all").to_numpy()
    levels = levels[complete].reset_index(drop=True)
    reorder_path, order_up_to_path = reorder_path[complete], order_up_to_path[complete]
    skipped = int(len(panel) - np.unique(levels["series"]).size)
    rows = levels["series"].to_numpy()
    H = settings.holdout
    demand = np.nan_to_num(actual, nan=0.0)  # (n, H): censored periods keep the observed units (a lower bound)
    lead_std = truncated["lead_time_std"].to_numpy(dtype=float)
    lead_times = sim.draw_lead_times(np.where(np.isfinite(lead_mean), lead_mean, 0.0), lead_std, H,
                                     seed=settings.seed if seed is None else seed)  # (n, H), shared by all families
    case_pack = panel["case_pack"].to_numpy(dtype=float) if "case_pack" in panel else np.ones(len(panel))
    moq = panel["moq"].to_numpy(dtype=float) if "moq" in panel else np.zeros(len(panel))
    if not settings.apply_order_rounding:
        case_pack, moq = np.ones(len(panel)), np.zeros(len(panel))
    case_pack = np.where(np.isfinite(case_pack) & (case_pack > 0), case_pack, 1.0)
    result = sim.simulate_inventory(
        demand[rows], levels["policy_type"].to_numpy(dtype=object), reorder_path,
        order_up_to_path, levels["order_quantity"].to_numpy(), levels["review_period"].to_numpy(),
        lead_times[rows], moq=moq[rows], case_pack=case_pack[rows], lost_sales=settings.lost_sales,
    )
    unit_cost = panel["unit_cost"].to_numpy(dtype=float) if "unit_cost" in panel else np.full(len(panel), np.nan)
    rate = panel["holding_cost_rate"].to_numpy(dtype=float) if "holding_cost_rate" in panel else np.full(len(panel), np.nan)
    holding = unit_cost * np.where(np.isfinite(rate), rate, settings.holding_cost_rate) / settings.year_periods
    ordering = panel["ordering_cost"].to_numpy(dtype=float) if "ordering_cost" in panel else np.full(len(panel), np.nan)
    sums = sim.summarize(result, demand[rows], holding[rows], ordering[rows], settings.lost_sales, settings.warmup)
    out = pd.DataFrame({
        "policy": levels["policy"].to_numpy(dtype=object),
        "segment": forecast["segment"].to_numpy(dtype=object)[rows],
        "service_level_target": levels["knob"].to_numpy(dtype=float),
        "sku_id": panel["sku_id"].to_numpy(dtype=object)[rows],
        "location_id": panel["location_id"].to_numpy(dtype=object)[rows],
        "n_series": 1.0,
        **sums,
    })
    out["censored_holdout_periods"] = censored.sum(axis=1)[rows]
    return out, skipped


def outcome_backtest_bucket(panel: pd.DataFrame, settings: OutcomeBacktestSettings) -> pd.DataFrame:
    """One bucket's outcome sums per policy x segment x knob (:data:`OUTCOME_SUMS_SCHEMA`).

    The lead-time draws are seeded by ``(settings.seed, bucket)`` and the series are put in key
    order first, so that a bucket gives the same result wherever it runs and in whatever order
    Spark's shuffle delivers its rows.
    """
    if len(panel) == 0:
        return OUTCOME_SUMS_SCHEMA.empty_table().to_pandas()
    panel = panel.sort_values(["sku_id", "location_id"], kind="stable", ignore_index=True)
    bucket = int(panel["bucket"].iloc[0]) if "bucket" in panel else 0
    per_series, skipped = simulate_families(panel, settings, seed=np.random.SeedSequence([settings.seed, bucket]))
    sums = per_series.groupby(["policy", "segment", "service_level_target"], as_index=False, dropna=False)[
        list(SUM_COLUMNS)].sum(min_count=1)
    sums["n_series_skipped"] = float(skipped)
    return sums[OUTCOME_SUMS_SCHEMA.names]


def outcome_table(sums: pd.DataFrame, periods_per_year: float, by=("policy", "segment", "service_level_target")) -> pd.DataFrame:
    """``policy_simulation`` rows from summed outcomes: sums over ``by`` plus the ratios.

    ``fill_rate``, ``csl``, ``inventory_turns`` as in
    :func:`invspark.kernels.inventory_simulation.outcome_ratios`; ``avg_on_hand`` and
    ``stockout_periods`` per series (units on hand per series and period, and stockout periods
    per series over the holdout); ``holding_cost``, ``ordering_cost`` totals.
    """
    grouped = sums.groupby(list(by), as_index=False, dropna=False)[list(SUM_COLUMNS)].sum(min_count=1)
    ratios = sim.outcome_ratios(grouped, periods_per_year)
    grouped["fill_rate"] = ratios["fill_rate"]
    grouped["csl"] = ratios["csl"]
    grouped["avg_on_hand"] = ratios["avg_on_hand"]
    grouped["stockout_periods"] = grouped["stockout_periods"] / grouped["n_series"]
    grouped["inventory_turns"] = ratios["inventory_turns"]
    return grouped


def _interpolate(x_points: np.ndarray, y_points: np.ndarray, x: float) -> float:
    """Linear interpolation on the curve's points sorted by x; NaN outside their range (no extrapolation)."""
    keep = np.isfinite(x_points) & np.isfinite(y_points)
    xs, ys = x_points[keep], y_points[keep]
    if xs.size < 2 or not np.isfinite(x) or x < xs.min() or x > xs.max():
        return np.nan
    order = np.argsort(xs, kind="stable")
    return float(np.interp(x, xs[order], ys[order]))


def frontier_comparison(table: pd.DataFrame, service: str = "fill_rate", baselines=("static_cover", "mae_normal"),
                        by: str = "segment") -> pd.DataFrame:
    """invspark against each baseline on the service-versus-inventory curves of :func:`outcome_table`.

    For each group (``by``) and each invspark knob: the baseline's average stock at invspark's
    achieved ``service`` (linear interpolation between the baseline's knob points) gives
    ``inventory_change`` = invspark stock / baseline stock - 1 (negative: invspark needs less
    stock for the same service); the baseline's stockout periods at invspark's average stock give
    ``stockout_change`` = invspark stockouts / baseline stockouts - 1. NaN where invspark's point
    lies outside the baseline's swept range. Loops over groups x knobs (a few dozen), not series.
    """
    rows = []
    for group, frame in table.groupby(by, dropna=False):
        own = frame[frame["policy"] == "invspark"].sort_values("service_level_target")
        for baseline in baselines:
            other = frame[frame["policy"] == baseline]
            for _, point in own.iterrows():
                stock = _interpolate(other[service].to_numpy(float), other["avg_on_hand"].to_numpy(float), point[service])
                stockouts = _interpolate(other["avg_on_hand"].to_numpy(float), other["stockout_periods"].to_numpy(float),
                                         point["avg_on_hand"])
                rows.append({
                    by: group, "baseline": baseline, "service_level_target": point["service_level_target"],
                    "n_series": point["n_series"], service: point[service], "avg_on_hand": point["avg_on_hand"],
                    "baseline_avg_on_hand": stock,
                    "inventory_change": point["avg_on_hand"] / stock - 1.0 if stock > 0 else np.nan,
                    "stockout_periods": point["stockout_periods"], "baseline_stockout_periods": stockouts,
                    "stockout_change": point["stockout_periods"] / stockouts - 1.0 if stockouts > 0 else np.nan,
                })
    return pd.DataFrame(rows)


def service_intervals(per_series: pd.DataFrame, measure: str = "csl", by: str = "segment", policy: str = "invspark",
                      n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Achieved service of ``policy`` per ``by`` x target with a series-bootstrap percentile interval.

    ``per_series``: one row per series x family x knob (:func:`simulate_families`). ``measure``
    ``csl`` (1 - cycles_with_stockout / cycles) or ``fill_rate`` (filled / demand), each a ratio of
    sums over the group's series; the series are resampled with replacement ``n_boot`` times (Efron
    & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13: percentile interval), so the
    interval carries the correlation of the cycles of one series (a level error fails many of
    them). Returns ``by``, ``service_level_target``, ``n_series``, ``achieved``, ``lower``, ``upper``.
    Loops over groups x targets (a few dozen), not series.
    """
    numerator, denominator = {"csl": ("cycles_with_stockout", "cycles"), "fill_rate": ("filled", "demand")}[measure]
    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2.0
    rows = []
    own = per_series[per_series["policy"] == policy]
    for (group, target), frame in own.groupby([by, "service_level_target"], dropna=False):
        top = np.nan_to_num(frame[numerator].to_numpy(dtype=float))
        bottom = np.nan_to_num(frame[denominator].to_numpy(dtype=float))
        draws = rng.integers(0, len(frame), (n_boot, len(frame)))  # (B, n): resampled series
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = top[draws].sum(axis=1) / bottom[draws].sum(axis=1)  # (B,)
            point = top.sum() / bottom.sum() if bottom.sum() > 0 else np.nan
        achieved, boot = (1.0 - point, 1.0 - ratio) if measure == "csl" else (point, ratio)
        lower, upper = np.nanquantile(boot, [tail, 1.0 - tail]) if np.isfinite(boot).any() else (np.nan, np.nan)
        rows.append({by: group, "service_level_target": target, "n_series": len(frame), "achieved": achieved,
                     "lower": lower, "upper": upper})
    return pd.DataFrame(rows)
