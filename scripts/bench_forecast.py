"""Throughput of the forecast stage against the per-series patterns, on the same generated data.

    .venv/bin/python scripts/bench_forecast.py --series 10000 --periods 730 --bucket 5000 \\
        [--spark-series 200] [--statsforecast-series 300] [--lightgbm]

Data: ``--series`` daily series x ``--periods`` days (default 10,000 x 2 years), Poisson demand
with weekly seasonality, a third of them intermittent, 5% promotion days; horizon 28.

(a) ``forecast_bucket`` over buckets of ``--bucket`` series in this process: the whole stage
    (segmentation, 3-fold walk-forward backtest, selection, ensemble, quantiles), statistical
    models only unless ``--lightgbm``;
(b) the per-series Spark pattern ``groupBy("sku_id", "location_id").applyInPandas(fit_one_series)``
    fitting the same statistical models to one series per call (forecast only, no backtest), on
    ``--spark-series`` series with ``local[1]``, extrapolated linearly;
(c) statsforecast in one process (``n_jobs=1``) with the equivalent models, ``forecast`` only
    and ``cross_validation(n_windows=3)`` + ``forecast`` (what the stage does), on
    ``--statsforecast-series`` series, extrapolated linearly.

Reported: series / second / core (every run here uses one core) and the ratios to (a).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# appended, not inserted: an explicit PYTHONPATH (another checkout) still wins, and this
# checkout wins over the virtual environment's editable install
sys.path.append(str(Path(__file__).resolve().parent.parent))

from invspark.kernels.forecast_models import MODELS  # noqa: E402
from invspark.stages.forecast import STATISTICAL_MODELS, ForecastSettings, forecast_bucket  # noqa: E402

HORIZON = 28


def generate_panel(n_series: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    """Daily series panel (docs/architecture.md columns), built with numpy matrices."""
    rng = np.random.default_rng(seed)
    total = n_periods + HORIZON
    t = np.arange(total)
    level = rng.gamma(1.5, 6.0, (n_series, 1))
    weekly = 1 + 0.25 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 7, (n_series, 1))) / 7)
    promo = (rng.random((n_series, total)) < 0.05).astype(float)
    rate = level * weekly * np.where(promo > 0, 1.8, 1.0)
    rate = np.where((rng.random(n_series) < 0.33)[:, None], rate * 0.05, rate)
    units = rng.poisson(rate).astype(float)
    start = rng.integers(0, n_periods // 2, n_series) * (rng.random(n_series) < 0.2)
    units[np.arange(total)[None, :] < start[:, None]] = np.nan
    price = np.where(promo > 0, 0.85, 1.0) * rng.uniform(1, 20, (n_series, 1))
    category = rng.integers(0, 20, n_series)
    history = units[:, :n_periods]
    category_mean = np.zeros((20, n_periods))
    np.add.at(category_mean, category, np.nan_to_num(history))
    category_mean /= np.maximum(np.bincount(category, minlength=20), 1)[:, None]
    return pd.DataFrame({
        "sku_id": [f"sku{i}" for i in range(n_series)], "location_id": "store1", "bucket": np.arange(n_series) % 64,
        "units": list(history), "censored": list(np.zeros_like(history, dtype=bool)),
        "price": list(price[:, :n_periods]), "promo": list(promo[:, :n_periods]),
        "future_price": list(price[:, n_periods:]), "future_promo": list(promo[:, n_periods:]),
        "category": category.astype(str), "unit_cost": 1.0, "unit_price": 2.0,
        "lead_time_mean": 7.0, "lead_time_std": 2.0, "review_period": 7.0,
        "abc": np.array(["A", "B", "C"])[rng.integers(0, 3, n_series)], "category_mean_units": list(category_mean[category]),
    })


def bench_stage(panel: pd.DataFrame, n_periods: int, bucket: int, lightgbm: bool) -> float:
    models = STATISTICAL_MODELS + ("ensemble",) + (("lightgbm",) if lightgbm else ())
    settings = ForecastSettings(frequency="D", horizon=HORIZON, n_periods=n_periods, models=models)
    started = time.perf_counter()
    for begin in range(0, len(panel), bucket):
        forecast_bucket(panel.iloc[begin:begin + bucket].reset_index(drop=True), settings)
    return time.perf_counter() - started


def fit_one_series(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-series pattern: every statistical model on one series, one output row."""
    units = np.asarray(frame["units"].iloc[0], dtype=float)[None, :]  # (1, T)
    censored = np.zeros_like(units, dtype=bool)
    means = [MODELS[name](units, censored, HORIZON, 7).mean[0] for name in STATISTICAL_MODELS]
    return pd.DataFrame({"sku_id": frame["sku_id"].iloc[:1], "location_id": frame["location_id"].iloc[:1],
                         "mean": [np.nanmean(means, axis=0).tolist()]})


def bench_spark(panel: pd.DataFrame) -> float:
    from invspark.spark.session import get_spark

    spark = get_spark("bench-forecast", master="local[1]", extra_conf={"spark.sql.shuffle.partitions": "1"})
    frame = spark.createDataFrame(panel[["sku_id", "location_id", "units"]].assign(units=panel["units"].map(list)))
    frame = frame.cache()
    frame.count()
    started = time.perf_counter()
    result = frame.groupBy("sku_id", "location_id").applyInPandas(
        fit_one_series, schema="sku_id string, location_id string, mean array<double>")
    result.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    spark.stop()
    return seconds


def bench_statsforecast(panel: pd.DataFrame) -> tuple[float, float]:
    from statsforecast import StatsForecast
    from statsforecast.models import (ADIDA, TSB, AutoETS, CrostonClassic, CrostonSBA, HistoricAverage, Naive,
                                      SeasonalNaive, SimpleExponentialSmoothingOptimized, WindowAverage)

    history = np.stack(panel["units"].to_numpy())
    observed = ~np.isnan(history)
    ids = np.repeat(np.arange(len(history)), observed.sum(axis=1))
    frame = pd.DataFrame({"unique_id": ids, "ds": np.nonzero(observed)[1], "y": history[observed]})
    models = [Naive(), SeasonalNaive(season_length=7), HistoricAverage(), WindowAverage(window_size=7),
              SimpleExponentialSmoothingOptimized(), AutoETS(model="AAN", damped=True, alias="HoltDamped"),
              AutoETS(season_length=7, alias="ETSSeasonal"), CrostonClassic(), CrostonSBA(),
              TSB(alpha_d=0.1, alpha_p=0.1), ADIDA()]
    forecaster = StatsForecast(models=models, freq=1, n_jobs=1)
    started = time.perf_counter()
    forecaster.forecast(df=frame, h=HORIZON)
    forecast_seconds = time.perf_counter() - started
    started = time.perf_counter()
    forecaster.cross_validation(df=frame, h=HORIZON, n_windows=3, step_size=HORIZON)
    cv_seconds = time.perf_counter() - started
    return forecast_seconds, forecast_seconds + cv_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=730)
    parser.add_argument("--bucket", type=int, default=5_000)
    parser.add_argument("--spark-series", type=int, default=200, help="0 skips (b)")
    parser.add_argument("--statsforecast-series", type=int, default=300, help="0 skips (c)")
    parser.add_argument("--lightgbm", action="store_true", help="include the LightGBM candidate in (a)")
    args = parser.parse_args()

    panel = generate_panel(args.series, args.periods)
    rows = []
    seconds = bench_stage(panel, args.periods, args.bucket, args.lightgbm)
    stage_rate = args.series / seconds
    rows.append(("(a) forecast_bucket, buckets of %d, full stage%s" % (args.bucket, " + lightgbm" if args.lightgbm else ""),
                 args.series, seconds, stage_rate))
    if args.statsforecast_series:
        subset = panel.iloc[: args.statsforecast_series]
        forecast_s, with_cv_s = bench_statsforecast(subset)
        rows.append(("(c) statsforecast n_jobs=1, forecast only", len(subset), forecast_s, len(subset) / forecast_s))
        rows.append(("(c) statsforecast n_jobs=1, 3-window CV + forecast", len(subset), with_cv_s, len(subset) / with_cv_s))
    if args.spark_series:
        subset = panel.iloc[: args.spark_series]
        spark_s = bench_spark(subset)
        rows.append(("(b) Spark applyInPandas per series, local[1], forecast only", len(subset), spark_s, len(subset) / spark_s))

    print(f"{args.series:,} daily series x {args.periods} periods, horizon {HORIZON}; one core each\n")
    print("| run | series timed | seconds | series/s/core | (a) is x faster |")
    print("|---|---|---|---|---|")
    for name, count, secs, rate in rows:
        print(f"| {name} | {count:,} | {secs:.1f} | {rate:,.1f} | {stage_rate / rate:,.1f} |")


if __name__ == "__main__":
    main()
