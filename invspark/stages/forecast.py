"""The forecast stage for one bucket: segmentation, walk-forward backtest, model choice, quantiles.

``forecast_bucket(panel, settings) -> frame`` is a pure function of one bucket of the series
panel (docs/architecture.md, "The series panel"): pandas in, numpy matrices ``(n_series,
n_periods)`` through the kernels, pandas out with the schema :data:`FORECAST_BUCKET_SCHEMA`.

Method, per bucket:

0. **Censored demand** (``censored_demand="impute"``, :mod:`invspark.kernels.censored_demand`):
   each stockout period's demand is imputed by a draw from the series' demand distribution
   truncated below at what sold, from the history up to the point that uses it (the whole
   history; each fold's origin for its fit; each fold's window end for its scoring), and the
   steps below see demand, not sales. With ``"lower_bound"`` the sales of a stockout period stay
   a lower bound: the statistical models use them only where they exceed the forecast,
   LightGBM not at all, the backtest does not score them and the residuals take them as bounds.
1. **Segmentation** (``invspark.kernels.segmentation``): XYZ by the CV of per-period demand,
   Syntetos-Boylan pattern by ADI / CV^2 of sizes, lifecycle ``new`` / ``inactive``; the
   segment is ``"{abc}{xyz}-{pattern}"`` for active series, else the lifecycle.
2. **Walk-forward backtest** with ``backtest_folds`` rolling origins
   ``o_k = T - horizon - (k - 1) * backtest_step``: fold ``k`` fits every candidate on
   ``units[:, :o_k]`` only and is scored on ``o_k .. o_k + horizon - 1``. Statistical models
   get a promotion-lift adjustment estimated before the origin (history de-promoted, forecast
   re-promoted by the planned promo) and, with ``group_seasonality`` (off by default), a seasonal one:
   the history of every series with demand in most periods divided by its category's seasonal
   index, estimated from the bucket's such series of the category before the origin, the forecast
   multiplied by the index of each target period (group seasonal indices,
   :func:`invspark.kernels.forecast_models.group_seasonal_profile`; docs/accuracy.md);
   LightGBM uses the planned price and promotion as features, and the calendar phase.
3. **Level calibration** (``level_calibration``, off by default; :mod:`invspark.kernels.level_calibration`):
   every candidate's forecast is multiplied by the factor that minimises its mean backtest
   RMSSE in the series' segment (else its demand pattern or lifecycle; groups of at least
   ``calibration_min_series`` series, as known at each origin). Fold k's factors come only from
   folds whose window ends at or before ``o_k`` (a fold without one is scored uncalibrated);
   the final forecast's from all folds. New items' borrowed forecasts get a factor of their own,
   fitted on the items that were new at each origin. It lowers RMSSE on intermittent real data
   but pulls forecast totals well below the mean and missed the service targets more on
   generated data in the outcome backtest (docs/accuracy.md), hence off by default.
4. **Ensemble**: per segment, the median (``ensemble_method="median"``, default) of the
   ``ensemble_size`` best candidates by backtest RMSSE, or their ``1 / RMSSE^2``-weighted mean
   (``"inverse_mse"``); in the backtest, fold k's members come only from folds whose window ends
   at or before ``o_k``, so no fold sees its own future; a fold without such an older fold does
   not score the ensemble.
5. **Model choice** per segment by mean backtest RMSSE (M5 scaling) with the champion-challenger
   rule (:func:`choose_champion`): the default champion (the ensemble) stays unless a challenger
   beats it by ``champion_threshold`` (relative) on the mean and, with
   ``challenger_every_fold``, in every fold where both are scored.
6. **Quantiles** from the chosen model's out-of-sample residuals, scaled per series and pooled
   per segment and horizon step (``invspark.kernels.forecast_intervals``), conformal levels
   (with ``"lower_bound"``, a stockout period's residual enters as a lower bound, not dropped).
   The backtest's own pinball and p90 coverage of fold k use quantiles calibrated on the other
   folds' residuals (cross-fitting: an interval is never scored on the residuals it was built from).
7. **Demand distribution** family and demand over lead time + review period
   (``invspark.kernels.demand_distribution``). With the level calibration it is centred on the
   forecast plus the chosen model's pooled out-of-sample bias, with the spread of the centred
   errors: a forecast that minimises RMSSE sits below the mean of skewed demand, and stock must
   cover the mean.
8. **New items** borrow the level and profile of ``category_mean_units`` (the category at the
   same location), scaled by the item's own sales relative to the category over its short life,
   unless a model of the zoo forecast the items that were new at the backtest origins better
   (by ``champion_threshold``, over at least ``new_item_min_series`` such items): the same
   champion-challenger rule as the segments', on the only items that show how a short history
   goes on (on UCI Online Retail, new items' first weeks are launch orders that do not last).
9. **Closed days** (:mod:`invspark.kernels.trading_calendar`): a future period on a seasonal
   phase (a weekday in daily data) that the series had no observation on in each of its last
   four occurrences is a day its location does not trade: its forecast, quantiles and
   distribution path are 0, so the demand over lead time + review period counts trading days only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from invspark.errors import ConfigError, InputDataError
from invspark.kernels.forecast_models import MODELS, group_seasonal_profile
from invspark.kernels import (
    demand_distribution,
    forecast_intervals,
    forecast_metrics,
    level_calibration,
    segmentation,
    trading_calendar,
)
from invspark.kernels.censored_demand import RULES as CENSORED_DEMAND_RULES, impute_censored
from invspark.kernels.empirical_quantiles import SHAPE_LEVELS
from invspark.kernels.global_model import GlobalModelSettings, forecast_global

SEASON_LENGTH = {"D": 7, "W": 52, "M": 12}
OUTPUT_LEVELS = (0.1, 0.5, 0.9, 0.95, 0.99)
OUTPUT_QUANTILE_COLUMNS = ("p10", "p50", "p90", "p95", "p99")
STATISTICAL_MODELS = ("naive", "seasonal_naive", "historic_average", "moving_average", "ses", "holt_damped",
                      "ets_seasonal", "croston", "sba", "tsb", "adida")
DEFAULT_MODELS = STATISTICAL_MODELS + ("ensemble", "lightgbm")
NEW_ITEM_MODEL = "category_borrow"
ENSEMBLE_METHODS = ("median", "inverse_mse")

_DEFAULT_MIN_HISTORY = {"D": 28, "W": 8, "M": 6}
_DEFAULT_INACTIVE_WINDOW = {"D": 56, "W": 26, "M": 12}

PANEL_COLUMNS = ("sku_id", "location_id", "units", "censored", "price", "promo", "future_price", "future_promo",
                 "category", "lead_time_mean", "lead_time_std", "review_period", "abc", "category_mean_units")

_BACKTEST_TYPE = pa.list_(pa.struct([
    ("model", pa.string()), ("fold", pa.int32()), ("abs_error", pa.float64()), ("error", pa.float64()),
    ("actual", pa.float64()), ("squared_scaled_error", pa.float64()), ("pinball", pa.float64()),
    ("covered_p90", pa.float64()), ("n_points", pa.int32()),
]))

FORECAST_BUCKET_SCHEMA = pa.schema([
    ("sku_id", pa.string()), ("location_id", pa.string()), ("segment", pa.string()), ("abc", pa.string()),
    ("xyz", pa.string()), ("demand_pattern", pa.string()), ("lifecycle", pa.string()), ("model", pa.string()),
    ("distribution", pa.string()), ("history_stockout_periods", pa.int32()),
    ("demand_mean", pa.float64()), ("demand_std", pa.float64()),
    ("lead_time_demand_mean", pa.float64()), ("lead_time_demand_std", pa.float64()), ("demand_std_history", pa.float64()),
    ("adi", pa.float64()), ("cv2_size", pa.float64()),
    ("demand_shape", pa.list_(pa.float64())),
    ("mean", pa.list_(pa.float64())), ("p10", pa.list_(pa.float64())), ("p50", pa.list_(pa.float64())),
    ("p90", pa.list_(pa.float64())), ("p95", pa.list_(pa.float64())), ("p99", pa.list_(pa.float64())),
    ("backtest", _BACKTEST_TYPE),
])


@dataclass(frozen=True)
class ForecastSettings:
    """Settings of the forecast stage; checked at construction.

    ``frequency`` "D"/"W"/"M" (season length 7 / 52 / 12); ``horizon`` periods ahead;
    ``n_periods`` the length T of every history array. ``backtest_step`` (0 = ``horizon``)
    separates the rolling origins. ``min_history`` (periods since the first sale below which a
    series is ``new``) and ``inactive_window`` (periods without sales that make it
    ``inactive``) default by frequency. ``min_pool_points`` residuals are needed before a
    segment gets its own quantiles (else its demand pattern's, else the bucket's).
    ``level_calibration`` scales each candidate by its out-of-sample factor (step 3 of the
    module docstring), fitted on groups of at least ``calibration_min_series`` series.
    ``group_seasonality``: the statistical models forecast demand adjusted by its category's
    seasonal index (step 2 of the module docstring).
    ``new_item_min_series`` items new at the backtest origins are needed before a model may
    replace borrowing for the new items (step 8). ``censored_demand`` (step 0): ``"impute"`` or
    ``"lower_bound"``.
    """

    frequency: str
    horizon: int
    n_periods: int
    quantiles: tuple = OUTPUT_LEVELS
    backtest_folds: int = 3
    backtest_step: int = 0
    models: tuple = DEFAULT_MODELS
    champion_threshold: float = 0.02
    default_champion: str = "ensemble"
    ensemble_size: int = 3
    ensemble_method: str = "median"
    challenger_every_fold: bool = True
    adi_cutoff: float = segmentation.INTERMITTENT_ADI
    cv2_cutoff: float = 0.49
    x_cutoff: float = 0.5
    y_cutoff: float = 1.0
    min_history: int | None = None
    inactive_window: int | None = None
    min_pool_points: int = 50
    promo_lift_prior: float = 8.0
    level_calibration: bool = False
    group_seasonality: bool = False
    calibration_min_series: int = 30
    new_item_min_series: int = 30
    censored_demand: str = "impute"
    lightgbm: GlobalModelSettings | None = field(default=None)

    def __post_init__(self):
        if self.frequency not in SEASON_LENGTH:
            raise ConfigError(f"frequency must be one of {sorted(SEASON_LENGTH)}, got {self.frequency!r}")
        for name in ("horizon", "n_periods", "backtest_folds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.backtest_step < 0:
            raise ConfigError(f"backtest_step must be >= 0 (0 = horizon), got {self.backtest_step!r}")
        if self.backtest_folds < 2:
            raise ConfigError(f"backtest_folds must be >= 2 (the ensemble weights each fold by the others), got {self.backtest_folds!r}")
        missing_levels = [q for q in OUTPUT_LEVELS if q not in self.quantiles]
        if missing_levels or any(not 0 < q < 1 for q in self.quantiles):
            raise ConfigError(f"quantiles must lie in (0, 1) and include {OUTPUT_LEVELS}, got {self.quantiles!r}")
        unknown = [m for m in self.models if m not in DEFAULT_MODELS]
        if unknown or not self.models:
            raise ConfigError(f"models must be a non-empty subset of {DEFAULT_MODELS}, got unknown {unknown!r}")
        if self.censored_demand not in CENSORED_DEMAND_RULES:
            raise ConfigError(f"censored_demand must be one of {CENSORED_DEMAND_RULES}, got {self.censored_demand!r}")
        if self.default_champion not in self.models:
            raise ConfigError(f"default_champion {self.default_champion!r} must be one of models {self.models!r}")
        if not 0 <= self.champion_threshold < 1:
            raise ConfigError(f"champion_threshold must be in [0, 1), got {self.champion_threshold!r}")
        for name in ("calibration_min_series", "new_item_min_series"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.ensemble_size < 1:
            raise ConfigError(f"ensemble_size must be >= 1, got {self.ensemble_size!r}")
        if self.ensemble_method not in ENSEMBLE_METHODS:
            raise ConfigError(f"ensemble_method must be one of {ENSEMBLE_METHODS}, got {self.ensemble_method!r}")
        first_origin = self.n_periods - self.horizon - (self.backtest_folds - 1) * self.step
        if first_origin < 2:
            raise ConfigError(
                f"n_periods={self.n_periods} is too short for backtest_folds={self.backtest_folds} x "
                f"backtest_step={self.step} plus horizon={self.horizon}; lower backtest_step or horizon"
            )

    @property
    def season_length(self) -> int:
        return SEASON_LENGTH[self.frequency]

    @property
    def step(self) -> int:
        return self.backtest_step or self.horizon

    @property
    def origins(self) -> list[int]:
        """Backtest origins, fold 1 (most recent) first: ``T - horizon - (k - 1) * step``."""
        return [self.n_periods - self.horizon - k * self.step for k in range(self.backtest_folds)]

    @property
    def new_history(self) -> int:
        return self.min_history if self.min_history is not None else _DEFAULT_MIN_HISTORY[self.frequency]

    @property
    def inactive_periods(self) -> int:
        return self.inactive_window if self.inactive_window is not None else _DEFAULT_INACTIVE_WINDOW[self.frequency]

    @property
    def global_model(self) -> GlobalModelSettings:
        if self.lightgbm is not None:
            return self.lightgbm
        windows = {"D": (7, 14, 28, 56), "W": (4, 8, 13, 26), "M": (3, 6, 12)}[self.frequency]
        lags = {"D": (1, 2, 3, 4, 5, 6, 7, 14), "W": (1, 2, 3, 4, 8), "M": (1, 2, 3, 6, 12)}[self.frequency]
        return GlobalModelSettings(season_length=self.season_length, windows=windows, lags=lags,
                                   level_window={"D": 28, "W": 8, "M": 6}[self.frequency])


def model_registry() -> dict:
    """The statistical models by name: ``forecast(y, censored, horizon, season_length) -> ModelForecast``."""
    return MODELS


# ----------------------------------------------------------------------------------------------
# input


def _stack(frame: pd.DataFrame, column: str, length: int, dtype=np.float64) -> np.ndarray:
    """``(n, length)`` matrix from a column of equal-length lists; InputDataError on a bad length."""
    values = frame[column].to_numpy()
    if len(values) == 0:
        return np.zeros((0, length), dtype=dtype)
    try:
        matrix = np.stack(values).astype(dtype)
    except ValueError as error:
        raise InputDataError(f"panel column {column!r} must hold lists of length {length} on every row: {error}") from error
    if matrix.shape != (len(frame), length):
        raise InputDataError(f"panel column {column!r} must hold lists of length {length}, got shape {matrix.shape}; "
                             "build the panel with the run's n_periods / horizon")
    return matrix


@dataclass
class PanelMatrices:
    units: np.ndarray  # (n, T) NaN = missing
    censored: np.ndarray  # (n, T) bool
    price: np.ndarray  # (n, T)
    promo: np.ndarray  # (n, T)
    future_price: np.ndarray  # (n, H)
    future_promo: np.ndarray  # (n, H)
    category_mean: np.ndarray  # (n, T)


def _with_imputed_demand(matrices: PanelMatrices, end: int, settings: ForecastSettings) -> PanelMatrices:
    """``matrices`` with the censored periods of ``[:, :end]`` imputed from that history only
    (:mod:`invspark.kernels.censored_demand`) and no longer censored; unchanged with
    ``censored_demand="lower_bound"``."""
    censored = matrices.censored[:, :end]
    if settings.censored_demand != "impute" or not censored.any():
        return matrices
    units, promo = matrices.units[:, :end], matrices.promo[:, :end]
    lift = promo_lift(segmentation.observed_demand(units, censored), promo, settings.promo_lift_prior)
    imputed = impute_censored(units, censored, lift, promo)
    return replace(matrices, units=np.concatenate([imputed, matrices.units[:, end:]], axis=1),
                   censored=np.concatenate([np.zeros_like(censored), matrices.censored[:, end:]], axis=1))


def panel_matrices(panel: pd.DataFrame, settings: ForecastSettings) -> PanelMatrices:
    """Check the panel's columns and stack its arrays into matrices."""
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise InputDataError(f"forecast_bucket panel lacks columns {missing}; build it with the ingest's series panel "
                             "(docs/architecture.md) plus 'abc' and 'category_mean_units'")
    T, H = settings.n_periods, settings.horizon
    units = _stack(panel, "units", T)
    if np.nanmin(units, initial=0.0) < 0 or np.isinf(units).any():
        raise InputDataError(f"panel column 'units' must be finite and >= 0, got minimum {np.nanmin(units, initial=0.0)}; "
                             "negative rows belong in quarantine")
    return PanelMatrices(
        units=units,
        censored=_stack(panel, "censored", T, dtype=bool),
        price=_stack(panel, "price", T),
        promo=_stack(panel, "promo", T),
        future_price=_stack(panel, "future_price", H),
        future_promo=_stack(panel, "future_promo", H),
        category_mean=_stack(panel, "category_mean_units", T),
    )


# ----------------------------------------------------------------------------------------------
# promotions


def promo_lift(demand: np.ndarray, promo: np.ndarray, prior_strength: float) -> np.ndarray:
    """Multiplicative promotion lift per series ``(n,)``, shrunk toward the bucket's lift.

    ``lift_i = (n_i * raw_i + k * pooled) / (n_i + k)`` with ``raw_i`` = mean demand in promo
    periods / mean demand in regular periods, ``n_i`` the series' promo periods, ``k`` =
    ``prior_strength`` and ``pooled`` the ratio of sums over the bucket (empirical-Bayes
    shrinkage, as in Cooper et al. 1999 "PromoCast", Operations Research 47(1)). Clipped to
    [0.5, 10]; 1 where the bucket has no promotions. ``demand``, ``promo``: ``(n, T)``.
    """
    observed = ~np.isnan(demand)
    on = observed & (np.nan_to_num(promo, nan=0.0) > 0)
    off = observed & (np.nan_to_num(promo, nan=1.0) == 0)
    values = np.nan_to_num(demand, nan=0.0)
    n_on, n_off = on.sum(axis=1), off.sum(axis=1)
    mean_on = np.where(on, values, 0.0).sum(axis=1) / np.maximum(n_on, 1)
    mean_off = np.where(off, values, 0.0).sum(axis=1) / np.maximum(n_off, 1)
    both = (n_on > 0) & (n_off > 0) & (mean_off > 0)
    if not both.any():
        return np.ones(demand.shape[0])
    pooled = np.sum((mean_on * n_on)[both]) / max(np.sum((mean_off * n_on)[both]), 1e-12)
    raw = np.where(both, mean_on / np.where(mean_off > 0, mean_off, 1.0), pooled)
    weight = np.where(both, n_on, 0)
    lift = (weight * raw + prior_strength * pooled) / (weight + prior_strength)
    return np.clip(lift, 0.5, 10.0)


# ----------------------------------------------------------------------------------------------
# candidates


def _candidate_forecasts(
    settings: ForecastSettings,
    matrices: PanelMatrices,
    end: int,
    target_price: np.ndarray,
    target_promo: np.ndarray,
    category_codes: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every base candidate's mean forecast ``(n, H)`` from ``[:, :end]`` of the history only.

    ``target_price``, ``target_promo``: ``(n, H)``, the plan for the forecast periods.
    """
    H, season = settings.horizon, settings.season_length
    units = matrices.units[:, :end]
    censored = matrices.censored[:, :end]
    promo = matrices.promo[:, :end]
    demand = np.where(censored, np.nan, units)
    lift = promo_lift(demand, promo, settings.promo_lift_prior)  # (n,)
    on_promo = np.nan_to_num(promo, nan=0.0) > 0
    base_units = np.where(on_promo, units / lift[:, None], units)  # de-promoted history
    stats = segmentation.demand_statistics(units, censored)  # from the fold's history only
    pattern = segmentation.demand_pattern(stats["adi"], stats["cv2_size"], settings.adi_cutoff, settings.cv2_cutoff)
    pattern_codes = pd.Categorical(pattern, categories=segmentation.PATTERNS).codes
    # the statistical models see demand adjusted by its category's seasonal index and forecast it
    # times the index of each target period (kernels.forecast_models.group_seasonal_profile): the
    # series with demand in most periods; intermittent demand (ADI >= adi_cutoff) is left as it is
    # (a seasonal index on a few occurrences adds noise to its forecasts: docs/accuracy.md)
    profile = np.ones((len(units), season))  # (n, m): column j = position of the periods end - m + j
    regular = ~(stats["adi"] >= settings.adi_cutoff)
    if settings.group_seasonality and regular.any():
        profile[regular] = group_seasonal_profile(base_units[regular], censored[regular], season, category_codes[regular])
    base_units = base_units / profile[:, (np.arange(end) - end) % season]
    on_target_promo = np.nan_to_num(target_promo, nan=0.0) > 0
    target_factor = np.where(on_target_promo, lift[:, None], 1.0) * profile[:, np.arange(H) % season]  # (n, H)
    registry = model_registry()
    forecasts = {}
    for name in settings.models:  # small fixed set of models
        if name in STATISTICAL_MODELS:
            if name not in registry:
                raise ConfigError(f"model {name!r} is not in invspark.kernels.forecast_models.MODELS; choose from {sorted(registry)}")
            result = registry[name](base_units, censored, H, season)
            forecasts[name] = np.maximum(result.mean, 0.0) * target_factor
        elif name == "lightgbm":
            forecasts[name] = forecast_global(
                demand, matrices.price[:, :end], promo, target_price, target_promo, H,
                category_codes, pattern_codes, pattern_codes, settings.global_model,
            )
    return forecasts


def _segment_means(values: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """nanmean of ``values`` ``(M, n)`` per segment code ``(n,)`` -> ``(M, n_codes)``."""
    ok = ~np.isnan(values)
    totals = np.stack([np.bincount(codes, weights=np.where(row_ok, row, 0.0), minlength=n_codes)
                       for row, row_ok in zip(values, ok)])  # loop over models
    counts = np.stack([np.bincount(codes, weights=row_ok.astype(float), minlength=n_codes) for row_ok in ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def ensemble_weights(scores: np.ndarray, size: int) -> np.ndarray:
    """Weights ``(M, n_segments)`` ∝ 1 / score^2 over the ``size`` best-scoring models per segment.

    ``scores``: ``(M, n_segments)`` mean RMSSE, ``NaN`` = not available. A segment without any
    score gets equal weights. (Performance-weighted combination: Bates & Granger 1969; inverse
    squared error weights as in Stock & Watson 2004, "Combination forecasts of output growth".)
    """
    n_models = scores.shape[0]
    filled = np.where(np.isfinite(scores), scores, np.inf)
    rank = np.argsort(np.argsort(filled, axis=0, kind="stable"), axis=0, kind="stable")  # (M, S)
    chosen = (rank < size) & np.isfinite(filled)
    with np.errstate(divide="ignore"):
        raw = np.where(chosen, 1.0 / np.maximum(filled, 1e-9) ** 2, 0.0)
    total = raw.sum(axis=0, keepdims=True)
    return np.where(total > 0, raw / np.where(total > 0, total, 1.0), 1.0 / n_models)


def choose_champion(scores: np.ndarray, fold_scores: np.ndarray, champion: int, threshold: float,
                    every_fold: bool) -> np.ndarray:
    """Index of the chosen model per segment ``(S,)`` by the champion-challenger rule.

    ``scores``: ``(M, S)`` mean backtest RMSSE over all folds; ``fold_scores``: ``(F, M, S)`` the
    same per fold (``NaN`` = not scored). The best-scoring challenger replaces the champion when
    its score is below ``(1 - threshold)`` times the champion's and, with ``every_fold``, when it
    also scores below the champion in every fold where both are scored (a win on the mean of a
    few folds is often one lucky window; selection on noisy folds, Fildes & Petropoulos 2015,
    "Simple versus complex selection rules for forecasting many time series", JBR 68(8)). A
    segment where the champion has no score takes the best challenger.
    """
    n_segments = scores.shape[1]
    filled = np.where(np.isfinite(scores), scores, np.inf)
    best = filled.argmin(axis=0)  # (S,)
    beats = filled[best, np.arange(n_segments)] < (1.0 - threshold) * filled[champion]
    if every_fold:
        best_fold = np.take_along_axis(fold_scores, best[None, None, :], axis=1)[:, 0]  # (F, S)
        champion_fold = fold_scores[:, champion]  # (F, S)
        loses = np.isfinite(best_fold) & np.isfinite(champion_fold) & (best_fold >= champion_fold)
        beats &= ~loses.any(axis=0)
    return np.where(beats | ~np.isfinite(filled[champion]), best, champion)


def _combine(means: np.ndarray, weights: np.ndarray, method: str = "inverse_mse") -> np.ndarray:
    """Combine the members ``weights > 0`` of ``means`` ``(M, n, H)`` per series; ``weights`` ``(M, n)``.

    ``"inverse_mse"``: the weighted mean ignoring NaN members. ``"median"``: the unweighted
    median of the members' forecasts per point, ignoring NaN members (a robust combination: the
    median of a few good forecasts does not follow one member's outlying level, and on
    intermittent data it beats selection and weighted means; Kourentzes, Barrow & Crone 2014,
    "Neural network ensemble operators for time series forecasting", ESWA 41(9); Petropoulos &
    Svetunkov 2020, "A simple combination of univariate models", IJF 36(1), the M4 median
    combination). ``NaN`` where no member has a forecast.
    """
    if method == "median":
        members = np.where((weights > 0)[:, :, None], means, np.nan)  # (M, n, H)
        count = (~np.isnan(members)).sum(axis=0)  # (n, H)
        ordered = np.sort(members, axis=0)  # NaN last
        low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
        high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[None], axis=0)[0]
        return np.where(count > 0, 0.5 * (low + high), np.nan)
    ok = ~np.isnan(means)
    w = np.where(ok, weights[:, :, None], 0.0)  # (M, n, H)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w * np.nan_to_num(means)).sum(axis=0) / total, np.nan)


# ----------------------------------------------------------------------------------------------
# the stage


def _segments(units: np.ndarray, censored: np.ndarray, abc: np.ndarray, settings: ForecastSettings):
    """``(segment, xyz, pattern, lifecycle)`` per series ``(n,)`` from the history ``(n, t)`` given, and the
    demand statistics they come from (segmentation.demand_statistics)."""
    stats = segmentation.demand_statistics(units, censored)
    xyz = segmentation.xyz_class(stats["cv"], settings.x_cutoff, settings.y_cutoff)
    pattern = segmentation.demand_pattern(stats["adi"], stats["cv2_size"], settings.adi_cutoff, settings.cv2_cutoff)
    life = segmentation.lifecycle(units, censored, settings.new_history, settings.inactive_periods)
    return segmentation.segment_labels(abc, xyz, pattern, life), xyz, pattern, life, stats


def forecast_bucket(panel: pd.DataFrame, settings: ForecastSettings) -> pd.DataFrame:
    """Forecast every series of one bucket; one output row per input row (schema :data:`FORECAST_BUCKET_SCHEMA`).

    The rows are processed in key order (``sku_id``, ``location_id``) and returned in the input's
    order, so pooled quantities (conformal residual pools, segment scores, the global model) do not
    depend on the order in which the rows arrived.

    ``panel``: one row per series with the series-panel columns (length-T lists ``units``,
    ``censored``, ``price``, ``promo``, ``category_mean_units``; length-H ``future_price``,
    ``future_promo``; scalars ``category``, ``lead_time_mean``, ``lead_time_std``,
    ``review_period``, ``abc``). Returns the columns of :data:`FORECAST_BUCKET_SCHEMA`; list
    columns are pyarrow-backed (``pd.ArrowDtype``).
    """
    key_order = np.lexsort((panel["location_id"].to_numpy(dtype=object).astype(str),
                            panel["sku_id"].to_numpy(dtype=object).astype(str)))
    result = _forecast_in_key_order(panel.iloc[key_order].reset_index(drop=True), settings)
    return result.iloc[np.argsort(key_order)].reset_index(drop=True)


def _forecast_in_key_order(panel: pd.DataFrame, settings: ForecastSettings) -> pd.DataFrame:
    n_series = len(panel)
    T, H, levels = settings.n_periods, settings.horizon, tuple(sorted(settings.quantiles))
    # stockout periods imputed from the history up to each point that needs them: the whole
    # history, each fold's origin (what it fits on) and each fold's window end (what it is
    # scored on), so that no fold sees later data even through an imputed value
    recorded = panel_matrices(panel, settings)
    imputed = {end: _with_imputed_demand(recorded, end, settings)
               for end in {T, *settings.origins, *(origin + H for origin in settings.origins)}}
    matrices = imputed[T]
    fold_matrices = [imputed[origin] for origin in settings.origins]
    if n_series == 0:
        return FORECAST_BUCKET_SCHEMA.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    units, censored = matrices.units, matrices.censored
    demand = np.where(censored, np.nan, units)  # (n, T) observations used for scoring

    # 1. segmentation on the whole history (the output's labels) and as of each backtest origin
    #    (the ensemble of fold k pools its weights over segments known at o_k: no look-ahead)
    abc = np.where(pd.isna(panel["abc"].to_numpy(dtype=object)), "C", panel["abc"].to_numpy(dtype=object)).astype(object)
    segment, xyz, pattern, life, demand_stats = _segments(units, censored, abc, settings)
    fold_labels = [_segments(history.units[:, :origin], history.censored[:, :origin], abc, settings)
                   for history, origin in zip(fold_matrices, settings.origins)]
    fold_segments = [labels[0] for labels in fold_labels]
    all_codes, segment_names = pd.factorize(np.concatenate([segment, *fold_segments]))
    all_codes = all_codes.reshape(settings.backtest_folds + 1, n_series)  # (1 + F, n): final, then folds
    segment_codes, fold_segment_codes = all_codes[0], all_codes[1:]
    all_patterns = pd.factorize(np.concatenate([pattern, *(labels[2] for labels in fold_labels)]))[0]
    all_patterns = all_patterns.reshape(settings.backtest_folds + 1, n_series)  # (1 + F, n): final, then folds
    pattern_codes, fold_pattern_codes = all_patterns[0], all_patterns[1:]
    category_codes, _ = pd.factorize(panel["category"].fillna("").to_numpy(dtype=object))
    n_segments = len(segment_names)
    is_new = life == "new"

    # 2. walk-forward backtest: fold k fits on [:, :origin_k] only
    base_names = [m for m in settings.models if m != "ensemble"]
    n_folds = settings.backtest_folds
    fold_means = np.full((len(base_names), n_folds, n_series, H), np.nan)  # (M, F, n, H)
    actual = np.full((n_folds, n_series, H), np.nan)  # (F, n, H)
    stockout_units = np.full((n_folds, n_series, H), np.nan)  # (F, n, H) censored periods' sales: lower bounds
    scale2 = np.ones((n_folds, n_series))  # (F, n)
    for fold, origin in enumerate(settings.origins):  # small fixed set of folds
        window = slice(origin, origin + H)
        history = fold_matrices[fold]
        forecasts = _candidate_forecasts(settings, history, origin, matrices.price[:, window], matrices.promo[:, window],
                                         category_codes)
        for index, name in enumerate(base_names):
            fold_means[index, fold] = forecasts[name]
        scored = imputed[origin + H]
        actual[fold] = segmentation.observed_demand(scored.units[:, window], scored.censored[:, window])
        stockout_units[fold] = np.where(scored.censored[:, window], scored.units[:, window], np.nan)
        fold_units, fold_censored = history.units[:, :origin], history.censored[:, :origin]
        scale2[fold] = forecast_metrics.safe_scale(forecast_metrics.m5_scale(fold_units, fold_censored),
                                                   segmentation.observed_demand(fold_units, fold_censored))
    actual[:, is_new, :] = np.nan  # new items are forecast by borrowing, not scored as candidates
    stockout_units[:, is_new, :] = np.nan

    # fold j's window lies wholly before fold f's origin: what fold f's calibration and ensemble
    # may learn from
    origins = np.asarray(settings.origins)
    available = origins[None, :] + H <= origins[:, None]  # (F, F): [f, j]

    # 2b. level calibration: every candidate times its out-of-sample factor for the series'
    #     segment (else its demand pattern / lifecycle), with the groups known at each origin;
    #     fold f's factors come from the folds available to it (none: not calibrated), the final
    #     ones from all folds
    final_factors = np.ones((len(base_names), n_series))
    if settings.level_calibration:
        coarse = [np.where(lf == "active", pt, lf) for _, _, pt, lf, _ in [(segment, xyz, pattern, life, demand_stats), *fold_labels]]
        coarse_codes = pd.factorize(np.concatenate(coarse))[0].reshape(n_folds + 1, n_series)  # final, then folds
        fold_groups = [coarse_codes[1:], fold_segment_codes]  # (F, n) each
        moments = level_calibration.error_moments(fold_means, actual[None], scale2[None])  # (4, M, F, n)

        def calibration(folds: np.ndarray, query_groups: list[np.ndarray]) -> np.ndarray:
            return level_calibration.level_factors(
                moments[:, :, folds].reshape(4, len(base_names), -1), [codes[folds].reshape(-1) for codes in fold_groups],
                query_groups, settings.calibration_min_series)

        for fold in np.flatnonzero(available.any(axis=1)):
            factors = calibration(available[fold], [coarse_codes[1 + fold], fold_segment_codes[fold]])  # (M, n)
            fold_means[:, fold] *= factors[:, :, None]
        final_factors = calibration(np.ones(n_folds, dtype=bool), [coarse_codes[0], segment_codes])

    # squared scaled errors per model, fold, series
    sq = np.where(np.isnan(actual)[None], np.nan, (fold_means - actual[None]) ** 2 / scale2[None, :, :, None])  # (M, F, n, H)
    sse = np.nansum(sq, axis=3)  # (M, F, n)
    points = (~np.isnan(sq)).sum(axis=3)  # (M, F, n)

    def segment_scores(fold_mask: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Mean per-series RMSSE per model and segment ``codes`` over the folds in ``fold_mask``: ``(M, S)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            per_series = np.sqrt(sse[:, fold_mask].sum(axis=1) / points[:, fold_mask].sum(axis=1))  # (M, n)
        return _segment_means(per_series, codes, n_segments)

    # 3. ensemble: fold f's members from the available (older) folds only; none: not scored (NaN)
    names = list(base_names)
    if "ensemble" in settings.models:
        ensemble = np.full((n_folds, n_series, H), np.nan)
        for fold in range(n_folds):
            if not available[fold].any():
                continue  # no older fold to choose members from: the ensemble is not scored here
            codes = fold_segment_codes[fold]
            weights = ensemble_weights(segment_scores(available[fold], codes), settings.ensemble_size)  # (M, S)
            ensemble[fold] = _combine(fold_means[:, fold], weights[:, codes], settings.ensemble_method)
        fold_means = np.concatenate([fold_means, ensemble[None]], axis=0)
        sq_ens = np.where(np.isnan(actual), np.nan, (ensemble - actual) ** 2 / scale2[:, :, None])
        sse = np.concatenate([sse, np.nansum(sq_ens, axis=2)[None]], axis=0)
        points = np.concatenate([points, (~np.isnan(sq_ens)).sum(axis=2)[None]], axis=0)
        names.append("ensemble")
    n_models = len(names)

    # residuals scaled per series; the quantiles of fold f come from the other folds (cross-fitting)
    scale = np.sqrt(scale2)  # (F, n)
    residuals = (actual[None] - fold_means) / scale[None, :, :, None]  # (M, F, n, H)
    group_levels = [pattern_codes, segment_codes]
    fold_quantiles = np.empty((len(levels), n_models, n_folds, n_series, H))
    for m in range(n_models):  # small fixed set of models
        for fold in range(n_folds):
            others = np.arange(n_folds) != fold
            rq = forecast_intervals.residual_quantiles(residuals[m, others], group_levels, levels, settings.min_pool_points)
            fold_quantiles[:, m, fold] = forecast_intervals.quantile_forecasts(np.nan_to_num(fold_means[m, fold]), scale[fold], rq)
    p90_index = levels.index(0.9)
    sums = forecast_metrics.error_sums(actual[None], fold_means, fold_quantiles, levels, scale2[None], fold_quantiles[p90_index])

    # 4. champion-challenger per segment on backtest RMSSE
    with np.errstate(invalid="ignore", divide="ignore"):
        per_series = np.sqrt(sse.sum(axis=1) / points.sum(axis=1))  # (M, n)
    scores = _segment_means(per_series, segment_codes, n_segments)  # (M, S)
    with np.errstate(invalid="ignore", divide="ignore"):
        fold_series = np.sqrt(sse / points)  # (M, F, n)
    fold_scores = np.stack([_segment_means(fold_series[:, f], segment_codes, n_segments) for f in range(n_folds)])  # (F, M, S)
    chosen_per_segment = choose_champion(scores, fold_scores, names.index(settings.default_champion),
                                         settings.champion_threshold, settings.challenger_every_fold)  # (S,)
    chosen = chosen_per_segment[segment_codes]  # (n,)

    # 5. final forecasts on the whole history
    final = _candidate_forecasts(settings, matrices, T, matrices.future_price, matrices.future_promo, category_codes)
    final_means = np.stack([final[name] for name in base_names]) * final_factors[:, :, None]  # (M_base, n, H)
    if "ensemble" in settings.models:
        weights = ensemble_weights(scores[: len(base_names)], settings.ensemble_size)
        final_means = np.concatenate([final_means, _combine(final_means, weights[:, segment_codes], settings.ensemble_method)[None]], axis=0)
    rows = np.arange(n_series)
    mean = final_means[chosen, rows]  # (n, H)
    model = np.array(names, dtype=object)[chosen]

    # 6. quantiles from the chosen model's residuals over all folds, scaled by the full history's
    #    scale; a stockout period left censored ("lower_bound") enters as a lower bound (its
    #    sales minus the forecast) instead of being dropped: dropping them would drop the large
    #    demands that caused them
    chosen_means = fold_means[chosen, :, rows].transpose(1, 0, 2)  # (F, n, H)
    bounded_actual = np.where(np.isnan(actual), stockout_units, actual)
    chosen_residuals = (bounded_actual - chosen_means) / scale[:, :, None]  # (F, n, H)
    final_scale2 = forecast_metrics.safe_scale(forecast_metrics.m5_scale(units, censored), demand)
    # 7. new items borrow the category-at-location level and profile, or take the model that
    #    forecast the items new at the backtest origins better
    trials = list(_new_item_trials(fold_matrices, settings, fold_segments))
    new_factor = _new_item_factor(trials, demand, scale2, settings) if settings.level_calibration else 1.0
    new_model = _new_item_model(trials, demand, scale2, fold_means[: len(base_names)], new_factor, settings)
    new_mean, new_label = (final_means[new_model], base_names[new_model]) if new_model is not None else (None, None)
    mean, model, final_scale2 = _forecast_new_items(matrices, settings, is_new, new_factor, mean, model, final_scale2,
                                                    new_mean, new_label)
    final_scale = np.sqrt(final_scale2)
    # 7b. no demand on the days the series' location does not trade (a weekday missing in each of
    #     its last weeks): the forecast, its quantiles and the distribution's path are 0 there
    closed = trading_calendar.closed_periods_ahead(~np.isnan(recorded.units), settings.season_length, H) & ~np.isnan(mean)
    mean = np.where(closed, 0.0, mean)
    rq = forecast_intervals.residual_quantiles(chosen_residuals, group_levels, levels, settings.min_pool_points)
    quantiles = forecast_intervals.quantile_forecasts(np.nan_to_num(mean), final_scale, rq)  # (L, n, H)
    quantiles = np.where(np.isnan(mean)[None], np.nan, np.where(closed[None], 0.0, quantiles))
    # 8. demand distribution and demand over lead time + review period; a level-calibrated
    #    forecast minimises RMSSE, which sits below the mean of skewed demand, so its distribution
    #    is centred on the forecast plus its pooled out-of-sample bias, with the centred spread
    bias = (forecast_intervals.residual_mean(chosen_residuals, group_levels, settings.min_pool_points) if settings.level_calibration
            else np.zeros((n_series, H)))  # (n, H)
    centred_residuals = chosen_residuals - bias[None]
    distribution_path = np.where(closed, 0.0, np.maximum(np.nan_to_num(mean) + final_scale[:, None] * bias, 0.0))
    # the spread of the errors over the protection interval is pooled by the group each series was
    # in at each fold's origin: a series that is active now but was new or inactive at a fold
    # erred there as a launch or a reactivation, not as the forecast it gets now
    spread_groups = [(fold_pattern_codes, pattern_codes), (fold_segment_codes, segment_codes)]
    cumulative = forecast_intervals.cumulative_error_scale(centred_residuals, spread_groups, settings.min_pool_points) * final_scale[:, None]
    family = demand_distribution.choose_family(units, censored, pattern)
    interval = demand_distribution.protection_interval_demand(
        distribution_path, cumulative,
        panel["lead_time_mean"].to_numpy(dtype=float), panel["lead_time_std"].to_numpy(dtype=float),
        panel["review_period"].to_numpy(dtype=float),
    )
    no_forecast = np.isnan(mean).any(axis=1)

    out = {
        "sku_id": panel["sku_id"].to_numpy(dtype=object),
        "location_id": panel["location_id"].to_numpy(dtype=object),
        "segment": segment,
        "abc": abc,
        "xyz": xyz,
        "demand_pattern": pattern,
        "lifecycle": life,
        "model": model,
        "distribution": family,
        "history_stockout_periods": recorded.censored.sum(axis=1).astype(np.int32),  # imputed or lower bounds, per censored_demand
    }
    for key in ("demand_mean", "demand_std", "lead_time_demand_mean", "lead_time_demand_std"):
        out[key] = np.where(no_forecast, np.nan, interval[key])
    out["demand_std_history"] = np.where(no_forecast, np.nan, demand_distribution.history_std(units, censored))
    # the Syntetos-Boylan statistics: the policy's compound binomial law of intermittent demand
    for key in ("adi", "cv2_size"):
        out[key] = np.where(no_forecast | ~np.isfinite(demand_stats[key]), np.nan, demand_stats[key])
    frame = pd.DataFrame(out)
    # empirical rows: the standardized shape of the error over the protection interval (the step
    # that covers lead time + review period), for the policy's quantiles (kernels.empirical_quantiles).
    # The shape is pooled over every series of the row's group, as its scale (the RMS above) is: a
    # pool of the empirical rows alone can be a handful of points.
    empirical = (family == "empirical") & ~no_forecast
    shape = np.zeros((n_series, len(SHAPE_LEVELS)))
    if empirical.any():
        by_step = forecast_intervals.cumulative_error_shape(
            centred_residuals, spread_groups, SHAPE_LEVELS, settings.min_pool_points)[empirical]  # (n_empirical, K, H)
        periods = np.nan_to_num(panel["lead_time_mean"].to_numpy(dtype=float) + panel["review_period"].to_numpy(dtype=float), nan=1.0)
        step = np.clip(np.ceil(periods[empirical]).astype(int), 1, H) - 1
        shape[empirical] = by_step[np.arange(int(empirical.sum())), :, step]
    frame["demand_shape"] = _list_column(shape, missing=~empirical)
    frame["mean"] = _list_column(mean)
    for column, level in zip(OUTPUT_QUANTILE_COLUMNS, OUTPUT_LEVELS):
        frame[column] = _list_column(quantiles[levels.index(level)])
    frame["backtest"] = _backtest_column(names, sums, is_new)
    return frame


def _borrowed_forecast(matrices: PanelMatrices, settings: ForecastSettings, rows: np.ndarray, end: int) -> np.ndarray:
    """New items' forecast ``(k, H)`` from ``[:, :end]`` of the history of ``rows`` (bool ``(n,)``).

    ``ratio * forecast(category_mean_units)`` with ``ratio = (own + c) / (category + c)`` over the
    item's observed periods, ``c`` = one period of the category's recent level (shrinks a very
    short history toward the category). Without category data, the item's own observed mean;
    without either, ``NaN``.
    """
    H = settings.horizon
    demand = np.where(matrices.censored[rows, :end], np.nan, matrices.units[rows, :end])  # (k, end)
    category = matrices.category_mean[rows, :end]  # (k, end)
    known = ~np.isnan(category)
    registry = model_registry()
    has_category = known.any(axis=1)
    category_input = np.where(known, np.maximum(category, 0.0), np.nan)
    category_input = np.where(has_category[:, None], category_input, 0.0)
    no_stockouts = np.zeros_like(known)
    # the category's seasonal profile (seasonal naive of an average of many series; it falls
    # back to naive with under two seasons), blended with its recent level for robustness
    seasonal = registry["seasonal_naive"](category_input, no_stockouts, H, settings.season_length).mean
    level = registry["moving_average"](category_input, no_stockouts, H, settings.season_length).mean
    profile = 0.5 * seasonal + 0.5 * level
    both = ~np.isnan(demand) & known
    own_total = np.where(both, demand, 0.0).sum(axis=1)
    category_total = np.where(both, category, 0.0).sum(axis=1)
    prior = np.nan_to_num(profile.mean(axis=1), nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(category_total + prior > 0, (own_total + prior) / (category_total + prior), 1.0)
        observed = ~np.isnan(demand)
        own_mean = np.where(observed.any(axis=1), np.nansum(demand, axis=1) / np.maximum(observed.sum(axis=1), 1), np.nan)
    borrowed = np.where(has_category[:, None], ratio[:, None] * profile, own_mean[:, None])  # (k, H)
    return np.maximum(borrowed, 0.0)


def _new_item_trials(fold_matrices: list[PanelMatrices], settings: ForecastSettings, fold_segments: list[np.ndarray]):
    """``(fold, origin, rows, borrowed)`` per backtest fold: the items that were ``new`` at its
    origin and had sold before it, and their :func:`_borrowed_forecast` from the history before it
    (``fold_matrices[fold]``)."""
    for fold, (history, origin) in enumerate(zip(fold_matrices, settings.origins)):  # small fixed set of folds
        rows = (fold_segments[fold] == "new") & (np.nan_to_num(history.units[:, :origin], nan=0.0) > 0).any(axis=1)
        if rows.any():
            yield fold, origin, rows, _borrowed_forecast(history, settings, rows, origin)


def _new_item_factor(trials: list, demand: np.ndarray, scale2: np.ndarray, settings: ForecastSettings) -> float:
    """Level calibration factor of :func:`_borrowed_forecast` (:mod:`invspark.kernels.level_calibration`).

    Fitted on the backtest's :func:`_new_item_trials`: the items that were new at each fold's
    origin, forecast by borrowing and scored on the fold's window. 1 with fewer than
    ``calibration_min_series`` such items over all folds.
    """
    H, n_series = settings.horizon, demand.shape[0]
    moments = np.zeros((4, n_series))
    for fold, origin, rows, borrowed in trials:
        moments[:, rows] += level_calibration.error_moments(borrowed, demand[rows, origin:origin + H], scale2[fold, rows])
    one_group = [np.zeros(n_series, dtype=int)]
    return float(level_calibration.level_factors(moments[:, None], one_group, [np.zeros(1, dtype=int)],
                                                 settings.calibration_min_series)[0, 0])


def _new_item_model(trials: list, demand: np.ndarray, scale2: np.ndarray, fold_means: np.ndarray, borrow_factor: float,
                    settings: ForecastSettings) -> int | None:
    """Index of the base model that replaces borrowing for the new items, or ``None`` (borrow).

    Each item of :func:`_new_item_trials` is one trial: its RMSSE over the fold's window under
    borrowing (times ``borrow_factor``) and under every base model (``fold_means``
    ``(M, F, n, H)``). A model must have at least ``new_item_min_series`` trials scored alongside
    borrowing and a mean RMSSE lower than borrowing's on them by ``champion_threshold``; the best
    such model wins.
    """
    H = settings.horizon
    trial_scores = []  # per fold: (1 + M, k) RMSSE of borrowing, then each model
    for fold, origin, rows, borrowed in trials:
        actual = demand[rows, origin:origin + H]  # (k, H)
        candidates = [borrow_factor * borrowed, *fold_means[:, fold, rows]]  # 1 + M, each (k, H)
        trial_scores.append(np.stack([forecast_metrics.rmsse(actual, candidate, scale2[fold, rows]) for candidate in candidates]))
    if not trial_scores:
        return None
    scores = np.concatenate(trial_scores, axis=1)  # (1 + M, trials)
    shared = np.isfinite(scores[0])[None] & np.isfinite(scores[1:])  # (M, trials): scored with borrowing
    count = shared.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        model_mean = np.where(shared, scores[1:], 0.0).sum(axis=1) / count
        borrow_mean = np.where(shared, scores[0][None], 0.0).sum(axis=1) / count
        gain = np.where(count >= settings.new_item_min_series, 1.0 - model_mean / borrow_mean, -np.inf)  # (M,)
    best = int(np.nanargmax(np.nan_to_num(gain, nan=-np.inf)))
    return best if gain[best] > settings.champion_threshold else None


def _forecast_new_items(matrices, settings, is_new, factor, mean, model, scale2, new_mean=None, new_model=None):
    """New items: ``new_mean`` ``(n, H)`` of the model ``new_model`` where it is finite, else
    :func:`_borrowed_forecast` from the whole history times the calibration ``factor``."""
    if not is_new.any():
        return mean, model, scale2
    forecast = factor * _borrowed_forecast(matrices, settings, is_new, settings.n_periods)
    label = np.full(int(is_new.sum()), NEW_ITEM_MODEL, dtype=object)
    if new_mean is not None:
        own = new_mean[is_new]  # (k, H)
        usable = np.isfinite(own).all(axis=1)
        forecast = np.where(usable[:, None], own, forecast)
        label = np.where(usable, new_model, label)
    mean = mean.copy()
    mean[is_new] = forecast
    model = model.copy()
    model[is_new] = label
    level = np.nan_to_num(forecast.mean(axis=1), nan=0.0)
    scale2 = scale2.copy()
    own_scale = forecast_metrics.m5_scale(matrices.units[is_new], matrices.censored[is_new])
    # without a usable history of its own, a Poisson-like scale: Var(y_t - y_{t-1}) = 2 * level
    scale2[is_new] = np.where(np.isfinite(own_scale), own_scale, np.maximum(2.0 * level, 1e-6))
    return mean, model, scale2


def _list_column(matrix: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.ArrowExtensionArray:
    """``(n, H)`` float matrix -> pyarrow-backed list<double> column (``NaN`` kept as NaN); rows
    where ``missing`` is True are null."""
    n, width = matrix.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width)
    values = pa.array(np.ascontiguousarray(matrix, dtype=np.float64).reshape(-1))
    mask = None if missing is None else pa.array(np.asarray(missing, dtype=bool))
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, values, mask=mask))


def _backtest_column(names: list[str], sums: dict[str, np.ndarray], is_new: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """list<struct> per series of the per-model, per-fold error sums (entries with no points dropped)."""
    n_models, n_folds, n_series = sums["n_points"].shape
    keep = (sums["n_points"] > 0) & ~is_new[None, None, :]  # (M, F, n)
    # order entries by series, then model, then fold
    keep_snf = keep.transpose(2, 0, 1)  # (n, M, F)
    series_index, model_index, fold_index = np.nonzero(keep_snf)
    counts = keep_snf.reshape(n_series, -1).sum(axis=1)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

    def pick(key):
        return sums[key][model_index, fold_index, series_index]

    struct = pa.StructArray.from_arrays(
        [
            pa.DictionaryArray.from_arrays(pa.array(model_index.astype(np.int32)), pa.array(names)).cast(pa.string()),
            pa.array(fold_index.astype(np.int32) + 1),
            pa.array(pick("abs_error")), pa.array(pick("error")), pa.array(pick("actual")),
            pa.array(pick("squared_scaled_error")), pa.array(pick("pinball")), pa.array(pick("covered_p90")),
            pa.array(pick("n_points").astype(np.int32)),
        ],
        fields=list(_BACKTEST_TYPE.value_type),
    )
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, struct))


def accuracy_from_backtest(output: pd.DataFrame) -> pd.DataFrame:
    """forecast_accuracy rows ``(model, segment, fold, wape, rmsse, bias, pinball, coverage_p90)``.

    Aggregates the ``backtest`` column of :func:`forecast_bucket`'s output: WAPE = sum abs_error
    / sum actual; RMSSE = mean over series of sqrt(squared_scaled_error / n_points); bias = sum
    error / sum actual; pinball = sum pinball / sum n_points; coverage_p90 = sum covered_p90 /
    sum n_points. This is the reference the Spark aggregation must equal.
    """
    table = pa.Table.from_pandas(output[["segment", "backtest"]].reset_index(drop=True), preserve_index=False)
    backtest = table.column("backtest").combine_chunks()
    lengths = backtest.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    flat = backtest.flatten()  # StructArray of all entries
    entries = pd.DataFrame({field.name: flat.field(i).to_numpy(zero_copy_only=False) for i, field in enumerate(flat.type)})
    entries.insert(0, "segment", np.repeat(table.column("segment").to_numpy(zero_copy_only=False), lengths))
    entries["rmsse_series"] = np.sqrt(entries["squared_scaled_error"] / entries["n_points"])
    grouped = entries.groupby(["model", "segment", "fold"], sort=True)
    totals = grouped[["abs_error", "error", "actual", "pinball", "covered_p90", "n_points"]].sum()
    result = pd.DataFrame({
        "wape": totals["abs_error"] / totals["actual"],
        "rmsse": grouped["rmsse_series"].mean(),
        "bias": totals["error"] / totals["actual"],
        "pinball": totals["pinball"] / totals["n_points"],
        "coverage_p90": totals["covered_p90"] / totals["n_points"],
    }).reset_index()
    result["fold"] = result["fold"].astype("int32")
    return result

