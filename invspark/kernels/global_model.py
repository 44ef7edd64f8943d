"""LightGBM global model: one gradient-boosted tree model per training group of series in a bucket.

A *global* (cross-learning) model fits one function to many series at once (Montero-Manso &
Hyndman 2021, "Principles and algorithms for forecasting groups of time series: locality and
globality", IJF 37(4); the M5 winners, Makridakis et al. 2022, IJF 38(4), §4). Here it is a
*direct* multi-horizon model: one row per series x forecast origin ``o`` x step ``h``, with
features known at the origin (lags, rolling statistics, the value one season before the
target), the step ``h``, the calendar phase of the target period, the target period's planned
price and promotion (known to the retailer), and hierarchy codes (category, demand pattern).
Targets and level features are divided by the series' recent level (``scale``), so one model
serves slow and fast movers; the objective is Tweedie (Zhou, Yang & Qian 2022, "Tweedie gradient
boosting for extremely unbalanced zero-inflated data"), suited to non-negative, zero-inflated
demand. Censored periods are missing (never a zero target, never a zero lag).

Everything is built from the ``(n_series, n_periods)`` matrices with array indexing; the only
Python loops run over training origins, lags, windows and training groups (small fixed sets).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from invspark.errors import ConfigError


@dataclass(frozen=True)
class GlobalModelSettings:
    """Feature and training settings; ``season_length`` periods per seasonal cycle."""

    season_length: int
    lags: tuple = (1, 2, 3, 4, 5, 6, 7)
    windows: tuple = (4, 8, 13, 26)
    level_window: int = 8
    n_origins: int = 10
    origin_step: int = 0  # 0: horizon // 2
    # 50 rounds at 0.15 score as 150 at 0.05 did on the three real data sets (docs/accuracy.md,
    # 2026-12-02) and take a third of the boosting time, which is most of the forecast stage's
    num_boost_round: int = 50
    learning_rate: float = 0.15
    num_leaves: int = 31
    min_data_in_leaf: int = 100
    tweedie_variance_power: float = 1.3
    # rows per training group, sampled at random: 100,000 score as 300,000 did on the three real
    # data sets (docs/accuracy.md, 2026-12-02) and halve the boosting time of a 4,000-series bucket
    max_rows: int = 100_000
    min_group_series: int = 200
    seed: int = 0

    def __post_init__(self):
        if self.season_length < 1:
            raise ConfigError(f"season_length must be >= 1, got {self.season_length!r}; use 7 (daily), 52 (weekly) or 12 (monthly)")
        if not 1.0 <= self.tweedie_variance_power < 2.0:
            raise ConfigError(f"tweedie_variance_power must be in [1, 2), got {self.tweedie_variance_power!r}")


FEATURE_NAMES_FIXED = ("log_scale", "step", "phase", "seasonal_lag", "rolling_std", "zero_share", "since_sale",
                       "price_ratio", "promo", "promo_share", "category", "pattern")


def _window_mean(values: np.ndarray, end: int, width: int) -> np.ndarray:
    """nanmean of ``values[:, end - width:end]`` per row, ``(n,)`` (NaN when empty)."""
    block = values[:, max(end - width, 0):end]
    count = (~np.isnan(block)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(block, axis=1) / np.maximum(count, 1), np.nan)


def origin_features(
    demand: np.ndarray,
    price: np.ndarray,
    promo: np.ndarray,
    target_price: np.ndarray,
    target_promo: np.ndarray,
    origin: int,
    horizon: int,
    category_codes: np.ndarray,
    pattern_codes: np.ndarray,
    settings: GlobalModelSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature tensor ``(n, horizon, n_features)`` and the series' scale ``(n,)`` at one origin.

    ``demand``, ``price``, ``promo``: ``(n, T)`` with ``T >= origin`` (only ``[:, :origin]`` is
    read). ``target_price``, ``target_promo``: ``(n, horizon)``, the plan for periods
    ``origin .. origin + horizon - 1``.
    """
    n_series = demand.shape[0]
    season = settings.season_length
    overall = _window_mean(demand, origin, origin)
    level = _window_mean(demand, origin, settings.level_window)
    scale = np.where(np.nan_to_num(level, nan=0.0) > 0, level, np.nan_to_num(overall, nan=0.0))
    scale = np.where(scale > 0, scale, 1.0)  # (n,)
    scaled = demand[:, :origin] / scale[:, None]  # (n, origin)

    per_series = []  # features that do not depend on the step, each (n,)
    for lag in settings.lags:
        per_series.append(scaled[:, origin - lag] if origin - lag >= 0 else np.full(n_series, np.nan))
    for width in settings.windows:
        per_series.append(_window_mean(scaled, origin, width))
    longest = max(settings.windows)
    block = scaled[:, max(origin - longest, 0):origin]
    observed = ~np.isnan(block)
    n_block = observed.sum(axis=1)
    block_mean = np.nansum(block, axis=1) / np.maximum(n_block, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rolling_std = np.where(n_block > 1, np.sqrt(np.nansum((block - block_mean[:, None]) ** 2, axis=1) / np.maximum(n_block, 1)), np.nan)
        zero_share = np.where(observed.sum(axis=1) > 0, (observed & (block == 0)).sum(axis=1) / np.maximum(observed.sum(axis=1), 1), np.nan)
    sold = np.nan_to_num(demand[:, :origin], nan=0.0) > 0
    since_sale = np.where(sold.any(axis=1), sold[:, ::-1].argmax(axis=1), origin).astype(float)
    base_price = _window_mean(np.where(np.nan_to_num(promo[:, :origin], nan=0.0) > 0, np.nan, price[:, :origin]), origin, longest)
    base_price = np.where(np.isnan(base_price), _window_mean(price, origin, longest), base_price)
    promo_share = _window_mean(promo, origin, longest)

    steps = np.arange(horizon)  # (H,)
    target_index = origin + steps  # (H,)
    seasonal_index = target_index - season * np.ceil((steps + 1) / season).astype(int)  # (H,) same phase, last cycle
    valid_seasonal = seasonal_index >= 0
    seasonal_lag = np.where(valid_seasonal[None, :], scaled[:, np.clip(seasonal_index, 0, max(origin - 1, 0))], np.nan) if origin else np.full((n_series, horizon), np.nan)
    # a period without a plan (NaN) is sold at the regular price, without a promotion: the model
    # never saw a missing price or promotion in training, and LightGBM would read NaN as 0
    with np.errstate(invalid="ignore", divide="ignore"):
        price_ratio = np.where(np.isnan(target_price), 1.0, target_price / base_price[:, None])  # (n, H)
    target_promo = np.nan_to_num(target_promo, nan=0.0)

    step_features = [
        np.broadcast_to(np.log1p(scale)[:, None], (n_series, horizon)),
        np.broadcast_to(steps[None, :] + 1.0, (n_series, horizon)),
        np.broadcast_to((target_index % season)[None, :].astype(float), (n_series, horizon)),
        seasonal_lag,
        np.broadcast_to(rolling_std[:, None], (n_series, horizon)),
        np.broadcast_to(zero_share[:, None], (n_series, horizon)),
        np.broadcast_to(since_sale[:, None], (n_series, horizon)),
        price_ratio,
        target_promo,
        np.broadcast_to(promo_share[:, None], (n_series, horizon)),
        np.broadcast_to(category_codes[:, None].astype(float), (n_series, horizon)),
        np.broadcast_to(pattern_codes[:, None].astype(float), (n_series, horizon)),
    ]
    features = np.concatenate(
        [np.stack(step_features, axis=2), np.repeat(np.stack(per_series, axis=1)[:, None, :], horizon, axis=1)], axis=2
    )  # (n, H, F)
    return features, scale


def feature_names(settings: GlobalModelSettings) -> list[str]:
    """Column names of :func:`origin_features`' last axis."""
    return list(FEATURE_NAMES_FIXED) + [f"lag_{lag}" for lag in settings.lags] + [f"mean_{w}" for w in settings.windows]


def forecast_global(
    demand: np.ndarray,
    price: np.ndarray,
    promo: np.ndarray,
    future_price: np.ndarray,
    future_promo: np.ndarray,
    horizon: int,
    category_codes: np.ndarray,
    pattern_codes: np.ndarray,
    group_codes: np.ndarray,
    settings: GlobalModelSettings,
) -> np.ndarray:
    """Fit one LightGBM model per training group on the history and forecast ``horizon`` steps.

    ``demand``: ``(n, T)`` with ``NaN`` for missing and censored periods; ``price``, ``promo``:
    ``(n, T)``; ``future_price``, ``future_promo``: ``(n, horizon)``; codes: ``(n,)`` int.
    Groups with fewer than ``min_group_series`` series are trained together. Returns the mean
    forecast ``(n, horizon)`` (non-negative); series of a group without any training row get
    ``NaN``.
    """
    n_series, n_periods = demand.shape
    step = settings.origin_step or max(horizon // 2, 1)
    first_origin = max(max(settings.lags), 1)
    origins = [n_periods - horizon - k * step for k in range(settings.n_origins)]
    origins = [o for o in origins if o >= first_origin]
    names = feature_names(settings)
    rng = np.random.default_rng(settings.seed)

    group_codes = np.asarray(group_codes)
    codes, counts = np.unique(group_codes, return_counts=True)
    small = np.isin(group_codes, codes[counts < settings.min_group_series])
    training_groups = np.where(small, -1, group_codes)

    train_x, train_y, train_group = [], [], []
    for origin in origins:  # small fixed set of training origins
        features, scale = origin_features(
            demand, price, promo, price[:, origin:origin + horizon], promo[:, origin:origin + horizon],
            origin, horizon, category_codes, pattern_codes, settings,
        )
        target = demand[:, origin:origin + horizon] / scale[:, None]  # (n, H)
        keep = ~np.isnan(target)
        train_x.append(features[keep])
        train_y.append(target[keep])
        train_group.append(np.broadcast_to(training_groups[:, None], target.shape)[keep])
    prediction_x, prediction_scale = origin_features(
        demand, price, promo, future_price, future_promo, n_periods, horizon, category_codes, pattern_codes, settings
    )
    forecast = np.full((n_series, horizon), np.nan)
    if not train_x:
        return forecast
    train_x = np.concatenate(train_x)  # (rows, F)
    train_y = np.concatenate(train_y)
    train_group = np.concatenate(train_group)
    params = {
        "objective": "tweedie",
        "tweedie_variance_power": settings.tweedie_variance_power,
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_data_in_leaf": settings.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "num_threads": 1,
        "seed": settings.seed,
        "verbose": -1,
    }
    for group in np.unique(training_groups):  # training groups: a handful per bucket
        rows = np.flatnonzero(train_group == group)
        if rows.size == 0:
            continue
        if rows.size > settings.max_rows:
            rows = np.sort(rng.choice(rows, settings.max_rows, replace=False))
        dataset = lgb.Dataset(train_x[rows], label=train_y[rows], feature_name=names,
                              categorical_feature=["category", "pattern"], free_raw_data=True)
        booster = lgb.train(params, dataset, num_boost_round=settings.num_boost_round)
        members = training_groups == group
        predicted = booster.predict(prediction_x[members].reshape(-1, len(names)), num_threads=1)  # (members*H,)
        forecast[members] = predicted.reshape(-1, horizon) * prediction_scale[members, None]  # (members, H)
    return np.maximum(forecast, 0.0)
